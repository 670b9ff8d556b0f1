"""The common kit every Cocreate service is built from: configuration, events, outbox, consumers, storage,
web pieces, auth and observability. Only what really is common lives here."""
