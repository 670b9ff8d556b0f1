package main

import (
	"net/url"
	"strings"
	"testing"
)

func TestTwinName(t *testing.T) {
	long := strings.Repeat("Collection-Name", 10) + "_1a2b3c4d"
	for _, c := range [][2]string{{"items_3a79338f", "_id"}, {long, strings.Repeat("fïeld.x", 20)}, {"t_00000000", "it's"}} {
		n := twinName(c[0], c[1])
		if len(n) > 63 || !strings.HasSuffix(n, twinSuffix) || strings.HasSuffix(n, "_idx") || n != twinName(c[0], c[1]) {
			t.Errorf("twinName(%q, %q) = %q", c[0], c[1], n)
		}
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("twinName(%q, %q) = %q: not a plain identifier", c[0], c[1], n)
		}
	}
	if twinName("a", "b") == twinName("a", "c") || twinName("a", "b") == twinName("a2", "b") {
		t.Error("twin names collide")
	}
}

func TestFieldExpr(t *testing.T) {
	cases := map[string]string{
		`(_jsonb -> '_id'::text)`:               "_id",
		`(_jsonb -> 'it''s'::text)`:             "it''s",
		`(_jsonb -> '_outbox_pending'::text)`:   "_outbox_pending",
		`((_jsonb -> 'a'::text) -> 'b'::text)`:  "",
		`(_jsonb -> 'a'::text) @> '"x"'::jsonb`: "",
		`_jsonb`:                                "",
	}
	for def, want := range cases {
		got := ""
		if m := fieldExpr.FindStringSubmatch(def); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", def, got, want)
		}
	}
}

func TestURLs(t *testing.T) {
	u, err := withCustomPlans("postgres://postgres@127.0.0.1:5433/ferretdb?pool_max_conns=10")
	if err != nil {
		t.Fatal(err)
	}
	q := must(url.Parse(u)).Query()
	if q.Get("plan_cache_mode") != "force_custom_plan" || q.Get("pool_max_conns") != "10" {
		t.Errorf("withCustomPlans: %s", u)
	}
	u, _ = withCustomPlans("postgres://h/db?plan_cache_mode=auto")
	if must(url.Parse(u)).Query().Get("plan_cache_mode") != "auto" {
		t.Errorf("withCustomPlans overrode an explicit setting: %s", u)
	}
	u, _ = twinURL("postgres://h/db?pool_max_conns=10&sslmode=disable")
	q = must(url.Parse(u)).Query()
	if q.Has("pool_max_conns") || q.Get("sslmode") != "disable" || q.Get("application_name") != "cocreate-index-twins" {
		t.Errorf("twinURL: %s", u)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
