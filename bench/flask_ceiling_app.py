"""A bare Flask app with one validated POST: the ceiling any of our endpoints can reach under our
gunicorn configuration on this machine (no store, no auth, no kit)."""
import marshmallow as ma
from flask import Flask, jsonify, request


class VoteSchema(ma.Schema):
    idea_id = ma.fields.String(required=True, validate=ma.validate.Length(1, 64))
    support = ma.fields.Boolean(required=True)


schema = VoteSchema()
app = Flask(__name__)


@app.post("/vote")
def vote():
    try:
        body = schema.load(request.get_json())
    except ma.ValidationError as err:
        return jsonify(errors=err.messages), 422
    return jsonify(body), 201
