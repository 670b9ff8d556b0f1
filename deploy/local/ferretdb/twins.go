package main

// Index twins (postgresql handler only).
//
// FerretDB 1.24 pushes an equality filter down to PostgreSQL as
//
//	SELECT _jsonb FROM "db"."coll_hash" WHERE _jsonb->$1 @> $2 [AND _jsonb->$3 @> $4 ...]
//
// ($1 = field name, $2 = the value as JSON), but the indexes it creates for create_index (and for
// _id) are btree on ((_jsonb -> 'field')), which cannot serve @>: every query scans the table.
// This loop gives each such index a twin that serves FerretDB's own predicate,
//
//	CREATE INDEX <table>_<field>_<hash>_twin ON "db"."coll_hash"
//	    USING gin ((_jsonb -> 'field') jsonb_path_ops) WITH (fastupdate = off)
//
// one per indexed top-level field (compound indexes: one per field; the planner BitmapAnds them)
// and one for _id of every collection table. It reads the catalog right after start and every
// twinInterval, creates missing twins (plain CREATE INDEX on small tables, CONCURRENTLY on big
// ones), drops (CONCURRENTLY) its own twins whose FerretDB index is gone or that a failed
// CONCURRENTLY build left invalid, and never touches anything else. Its statements run with a
// lock_timeout and a short deadlock_timeout (it loses any deadlock); a table or schema dropped
// meanwhile is not an error; anything that fails is retried on the next cycle, and logged once.
// FerretDB does not know about the twins (they are not in its metadata, listIndexes does not show
// them, DROP TABLE of a collection drops them too); only collStats/dbStats sizes include them.
//
// Because the field name is a bind parameter, an index on (_jsonb -> 'field') is usable only in
// a custom plan (parameters folded in). PostgreSQL switches a prepared statement to a generic
// plan (a seq scan here) once it looks no worse than the custom ones seen, e.g. after a few
// queries on a field without an index, and keeps it for the connection. So FerretDB's
// connections are opened with plan_cache_mode=force_custom_plan (see withCustomPlans).

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	twinInterval = 2 * time.Second
	twinSuffix   = "_twin" // FerretDB's own index names always end in "_idx"
	// Tables up to this size get a plain CREATE INDEX (blocks writes to that table for a few ms,
	// does not wait for unrelated transactions); bigger ones CREATE INDEX CONCURRENTLY.
	twinConcurrentlyFrom = 8 << 20
	metadataTable        = "_ferretdb_database_metadata"
)

// withCustomPlans adds plan_cache_mode=force_custom_plan to a PostgreSQL URL unless it sets
// plan_cache_mode itself.
func withCustomPlans(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if q.Get("plan_cache_mode") == "" {
		q.Set("plan_cache_mode", "force_custom_plan")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// twinURL is FerretDB's URL for our own single connection: without pgxpool's parameters.
func twinURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	q.Set("application_name", "cocreate-index-twins")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

var (
	// pg_get_indexdef(index, column, true) of a btree key on a top-level field.
	fieldExpr  = regexp.MustCompile(`^\(_jsonb -> '((?:[^']|'')*)'::text\)$`)
	nameUnsafe = regexp.MustCompile(`[^a-z0-9_]+`)
)

func twinName(table, field string) string {
	h := fnv.New32a()
	h.Write([]byte(table + "\x00" + field))
	part := func(s string, max int) string {
		s = nameUnsafe.ReplaceAllString(strings.ToLower(s), "_")
		if len(s) > max {
			s = s[:max]
		}
		return s
	}
	// at most 30 + 1 + 16 + 1 + 8 + 5 = 61 bytes (PostgreSQL's limit is 63)
	return fmt.Sprintf("%s_%s_%08x%s", part(table, 30), part(field, 16), h.Sum32(), twinSuffix)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

type twinTable struct {
	schema, name string
	size         int64                // bytes, read before the first create (-1: not yet)
	fields       map[string]bool      // top-level fields that FerretDB indexed (btree), plus _id
	twins        map[string]twinIndex // our twins on this table, by name
}

type twinIndex struct {
	field           string
	valid, building bool
}

// One row per key column of every index of every collection table in FerretDB's schemas (a
// schema with a _ferretdb_database_metadata table), plus one row per table with no index data.
// It takes no lock on the tables (no pg_relation_size here), so it does not race with DROP.
const twinCatalogQuery = `
WITH t AS (
  SELECT c.oid, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND left(c.relname, 10) <> '_ferretdb_'
    AND EXISTS (SELECT 1 FROM pg_class m WHERE m.relnamespace = n.oid AND m.relname = '` + metadataTable + `' AND m.relkind = 'r')
    AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '_jsonb'
                AND a.atttypid = 'jsonb'::regtype AND NOT a.attisdropped)
)
SELECT t.nspname, t.relname, am.amname, ic.relname, i.indisvalid,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid),
       COALESCE(pg_get_indexdef(i.indexrelid, k.n, true), '')
FROM t
JOIN pg_index i ON i.indrelid = t.oid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) AS k(n)
UNION ALL
SELECT t.nspname, t.relname, '', '', true, false, '' FROM t`

type twinner struct {
	url    string
	out    *log.Logger
	conn   *pgx.Conn
	logged map[string]string // last error logged per key, to log each problem once
}

func runTwins(ctx context.Context, rawURL string, out *log.Logger) {
	u, err := twinURL(rawURL)
	if err != nil {
		out.Printf("index twins: disabled, cannot parse the PostgreSQL URL: %v", err)
		return
	}
	t := &twinner{url: u, out: out, logged: map[string]string{}}
	defer func() {
		if t.conn != nil {
			t.conn.Close(context.Background())
		}
	}()
	tick := time.NewTicker(twinInterval)
	defer tick.Stop()
	for {
		t.cycle(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// once logs msg for key unless the same message was the last one logged for it.
func (t *twinner) once(key, msg string) {
	if t.logged[key] == msg {
		return
	}
	if len(t.logged) > 1000 { // keys of tables dropped meanwhile
		t.logged = map[string]string{}
	}
	t.logged[key] = msg
	t.out.Print("index twins: " + msg)
}

func (t *twinner) cycle(ctx context.Context) {
	if t.conn == nil || t.conn.IsClosed() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := pgx.Connect(cctx, t.url)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				t.once("connect", fmt.Sprintf("cannot connect (will retry): %v", err))
			}
			return
		}
		delete(t.logged, "connect")
		t.conn = c
		// We lose any deadlock with FerretDB's own statements (ours are retried), and never wait
		// long for a lock. deadlock_timeout needs a superuser: ignore a refusal.
		_, _ = c.Exec(ctx, "SET deadlock_timeout = '100ms'")
	}

	tables, err := t.catalog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.once("catalog", fmt.Sprintf("reading the catalog: %v", err))
		}
		return
	}
	delete(t.logged, "catalog")

	for _, tb := range tables {
		if ctx.Err() != nil {
			return
		}
		var created []string
		start := time.Now()
		fields := make([]string, 0, len(tb.fields))
		for f := range tb.fields {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			name := twinName(tb.name, f)
			tw, ok := tb.twins[name]
			switch {
			case ok && tw.valid:
				continue
			case ok && tw.building:
				continue // someone is building it (CONCURRENTLY) right now
			case ok:
				// left INVALID by a CREATE INDEX CONCURRENTLY that failed: drop, rebuild next time
				t.drop(ctx, tb, name, "invalid")
				continue
			}
			if t.create(ctx, tb, f, name) {
				created = append(created, quoteLiteral(f))
			}
		}
		for name, tw := range tb.twins {
			if !tb.fields[tw.field] && !tw.building {
				t.drop(ctx, tb, name, fmt.Sprintf("orphan: no FerretDB index on %q", tw.field))
			}
		}
		if len(created) == 0 {
			continue
		}
		if tb.size >= twinConcurrentlyFrom {
			// statistics on the new index expressions help the planner pick the twin
			_, _ = t.exec(ctx, "5s", "ANALYZE "+pgx.Identifier{tb.schema, tb.name}.Sanitize())
		}
		t.out.Printf("index twins: %s.%s (%d kB): created gin twins on %s in %s", tb.schema, tb.name,
			tb.size>>10, strings.Join(created, ", "), time.Since(start).Round(time.Millisecond))
	}
}

func (t *twinner) catalog(ctx context.Context) ([]*twinTable, error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := t.conn.Query(qctx, twinCatalogQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byKey := map[string]*twinTable{}
	var order []string
	for rows.Next() {
		var schema, table, am, index, def string
		var valid, building bool
		if err := rows.Scan(&schema, &table, &am, &index, &valid, &building, &def); err != nil {
			return nil, err
		}
		key := schema + "\x00" + table
		tb := byKey[key]
		if tb == nil {
			tb = &twinTable{schema: schema, name: table, size: -1,
				fields: map[string]bool{"_id": true}, twins: map[string]twinIndex{}}
			byKey[key] = tb
			order = append(order, key)
		}
		m := fieldExpr.FindStringSubmatch(def)
		if m == nil {
			continue // not a top-level field of _jsonb (nested path, other column, no index)
		}
		field := strings.ReplaceAll(m[1], "''", "'")
		switch {
		case am == "btree":
			tb.fields[field] = true
		case am == "gin" && strings.HasSuffix(index, twinSuffix) && index == twinName(table, field):
			tb.twins[index] = twinIndex{field: field, valid: valid, building: building}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*twinTable, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out, nil
}

func (t *twinner) create(ctx context.Context, tb *twinTable, field, name string) bool {
	if tb.size < 0 {
		var size int64
		err := t.conn.QueryRow(ctx, "SELECT COALESCE(pg_relation_size(to_regclass($1)), -1)",
			pgx.Identifier{tb.schema, tb.name}.Sanitize()).Scan(&size)
		if err != nil || size < 0 {
			return false // dropped meanwhile (or a transient error): next cycle
		}
		tb.size = size
	}
	concurrently, lockTimeout := "", "500ms"
	if tb.size >= twinConcurrentlyFrom {
		concurrently, lockTimeout = "CONCURRENTLY ", "10s"
	}
	q := fmt.Sprintf("CREATE INDEX %sIF NOT EXISTS %s ON %s USING gin ((_jsonb -> %s) jsonb_path_ops) WITH (fastupdate = off)",
		concurrently, pgx.Identifier{name}.Sanitize(), pgx.Identifier{tb.schema, tb.name}.Sanitize(), quoteLiteral(field))
	key := tb.schema + "." + name
	ok, err := t.exec(ctx, lockTimeout, q)
	if err != nil {
		t.once(key, fmt.Sprintf("creating %s on %s.%s (%s): %v (will retry)", name, tb.schema, tb.name, field, err))
		return false
	}
	delete(t.logged, key)
	return ok
}

func (t *twinner) drop(ctx context.Context, tb *twinTable, name, why string) {
	// CONCURRENTLY: no lock that would stop FerretDB's reads or writes meanwhile.
	q := "DROP INDEX CONCURRENTLY IF EXISTS " + pgx.Identifier{tb.schema, name}.Sanitize()
	key := tb.schema + "." + name
	ok, err := t.exec(ctx, "2s", q)
	if err != nil {
		t.once(key, fmt.Sprintf("dropping %s (%s): %v (will retry)", name, why, err))
		return
	}
	if ok {
		delete(t.logged, key)
		t.out.Printf("index twins: dropped %s on %s.%s (%s)", name, tb.schema, tb.name, why)
	}
}

// exec runs one DDL statement with a lock_timeout. It returns false without an error when the
// table or schema went away meanwhile (or we are stopping). A lost lock wait (55P03) or deadlock
// (40P01) is an error, logged once by the caller, and retried on a later cycle.
func (t *twinner) exec(ctx context.Context, lockTimeout, q string) (bool, error) {
	_, err := t.conn.Exec(ctx, "SET lock_timeout = '"+lockTimeout+"'")
	if err == nil {
		_, err = t.conn.Exec(ctx, q)
	}
	if err == nil {
		return true, nil
	}
	var pe *pgconn.PgError
	if ctx.Err() != nil ||
		errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000" || pe.Code == "42704") {
		return false, nil // undefined_table, invalid_schema_name, undefined_object
	}
	return false, err
}
