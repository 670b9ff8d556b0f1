// Command cocreate-ferretdb runs FerretDB (MongoDB wire protocol) embedded in a main module of
// our own, for local development and CI on machines without Docker.
//
// FerretDB's own cmd/ferretdb, when installed with `go install`, panics at start because its
// build/version/version.txt is not in the module zip; that check only runs when FerretDB is the
// main module, so importing the embeddable package from our own main avoids it.
//
// Single-document atomicity: FerretDB 1.24 executes update, findAndModify and delete as
// "query, change in memory, write back by _id" without any lock, on every backend, so two
// concurrent $inc on one document lose updates (measured: 8 threads x 250 $inc gave ~500 of
// 2000). MongoDB applies each of them atomically, and our code relies on that. So by default
// FerretDB listens on a private Unix socket and this program serves the TCP address itself,
// forwarding every message unchanged, but running update/findAndModify/delete commands on the
// same collection one at a time (-serialize-writes=false turns that off).
//
// Configuration: flags, each with an environment default.
//
//	-listen     FERRETDB_LISTEN_ADDR       127.0.0.1:27017
//	-handler    FERRETDB_HANDLER           sqlite | postgresql (default sqlite)
//	-sqlite     FERRETDB_SQLITE_URL        directory, or file:DIR/ URL (default var/store/sqlite)
//	-postgres   FERRETDB_POSTGRESQL_URL    postgres://user@host:port/db
//	-log-level  FERRETDB_LOG_LEVEL         debug | info | warn | error (default info)
//	-serialize-writes FERRETDB_SERIALIZE_WRITES  true | false (default true)
//	-socket     FERRETDB_SOCKET            FerretDB's private Unix socket when serializing
//	                                       (default: a new temporary directory)
//	-index-twins FERRETDB_INDEX_TWINS      true | false (default true; postgresql handler only)
//
// Garbage collection: FerretDB allocates a lot per command (documents decoded from JSON) while its
// live heap is small (~50 MB), so with Go's default (GOGC=100) it collected several times a second
// and GC took ~10% of its CPU under our load. Unless GOGC or GOMEMLIMIT is set in the environment,
// this main lets the heap grow to 10x the live heap between collections (GOGC=1000), bounded by a
// soft limit of 1 GiB, past which Go collects as often as it needs to stay below it.
//
//	-pprof      FERRETDB_PPROF_ADDR        serve Go's profiler (net/http/pprof) there, e.g.
//	                                       127.0.0.1:6060 (default: off)
//
// Index twins (twins.go): FerretDB 1.24 on PostgreSQL filters with `_jsonb->$1 @> $2`, which its
// btree indexes cannot serve. With -index-twins, a background loop gives every indexed top-level
// field (and _id) a GIN twin index that serves that predicate, and FerretDB's connections use
// plan_cache_mode=force_custom_plan so that the planner can match it. Wire messages are not
// touched.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with -pprof
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	listen := flag.String("listen", env("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"), "TCP listen address")
	handler := flag.String("handler", env("FERRETDB_HANDLER", "sqlite"), "backend: sqlite or postgresql")
	sqlite := flag.String("sqlite", env("FERRETDB_SQLITE_URL", "var/store/sqlite"), "SQLite directory or file:DIR/ URL")
	postgres := flag.String("postgres", env("FERRETDB_POSTGRESQL_URL", "postgres://postgres@127.0.0.1:5433/ferretdb"), "PostgreSQL URL")
	logLevel := flag.String("log-level", env("FERRETDB_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	serialize := flag.Bool("serialize-writes", env("FERRETDB_SERIALIZE_WRITES", "true") == "true",
		"run update/findAndModify/delete on one collection one at a time (single-document atomicity)")
	socket := flag.String("socket", env("FERRETDB_SOCKET", ""), "private Unix socket path of FerretDB behind the front")
	twins := flag.Bool("index-twins", env("FERRETDB_INDEX_TWINS", "true") == "true",
		"postgresql: add GIN twins of FerretDB's indexes that its equality filters can use (see twins.go)")
	pprofAddr := flag.String("pprof", env("FERRETDB_PPROF_ADDR", ""), "serve net/http/pprof on this address (off if empty)")
	flag.Parse()

	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(1000)
		debug.SetMemoryLimit(1 << 30)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	// Our own messages are printed whatever the level (slog.SetDefault also captures package log).
	out := log.New(os.Stderr, "cocreate-ferretdb: ", log.LstdFlags)

	conf := &ferretdb.Config{Handler: *handler, Logger: logger}

	switch *handler {
	case "sqlite":
		u := *sqlite
		if !strings.HasPrefix(u, "file:") {
			dir, err := filepath.Abs(u)
			if err != nil {
				out.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				out.Fatal(err)
			}
			u = "file:" + dir + "/"
		}
		conf.SQLiteURL = u
	case "postgresql":
		conf.PostgreSQLURL = *postgres
		if *twins {
			u, err := withCustomPlans(*postgres)
			if err != nil {
				out.Fatalf("bad -postgres URL: %v", err)
			}
			conf.PostgreSQLURL = u
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown handler %q (want sqlite or postgresql)\n", *handler)
		os.Exit(2)
	}

	var front net.Listener
	var sockDir string
	if *serialize {
		// Bind the public address first: a busy port fails fast, before the backend opens.
		var err error
		if front, err = net.Listen("tcp", *listen); err != nil {
			out.Fatalf("listen %s: %v", *listen, err)
		}
		if *socket != "" {
			// We hold the public port, so a socket file left here is from a dead run of ours.
			if err := os.Remove(*socket); err != nil && !errors.Is(err, os.ErrNotExist) {
				out.Fatalf("remove stale socket: %v", err)
			}
			conf.Listener.Unix = *socket
			defer os.Remove(*socket)
		} else {
			if sockDir, err = os.MkdirTemp("", "cocreate-ferretdb-"); err != nil {
				out.Fatal(err)
			}
			defer os.RemoveAll(sockDir)
			conf.Listener.Unix = filepath.Join(sockDir, "ferretdb.sock")
		}
	} else {
		conf.Listener.TCP = *listen
	}

	f, err := ferretdb.New(conf)
	if err != nil {
		if sockDir != "" {
			os.RemoveAll(sockDir)
		}
		out.Fatalf("configure: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var wg sync.WaitGroup
	if front != nil {
		p := &proxy{backend: conf.Listener.Unix, logger: logger}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serve(ctx, front)
		}()
	}

	if *pprofAddr != "" {
		// The store's own CPU profile (go tool pprof http://ADDR/debug/pprof/profile?seconds=20).
		go func() { out.Printf("pprof: %v", http.ListenAndServe(*pprofAddr, nil)) }()
	}

	twinsOn := *twins && *handler == "postgresql"
	if twinsOn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runTwins(ctx, *postgres, out)
		}()
	}

	out.Printf("serving on %s (handler %s, serialize-writes %v, index-twins %v, log level %s)",
		*listen, *handler, *serialize, twinsOn, level)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		out.Fatalf("run: %v", err)
	}
	wg.Wait()
	out.Printf("stopped")
}

// ------------------------------------------------------------------ serializing front

const (
	opMsg          = 2013
	flagMoreToCome = 1 << 1
	flagChecksum   = 1 << 0
	maxMessageSize = 64 << 20
)

// proxy forwards MongoDB wire messages between clients and FerretDB, one connection to FerretDB
// per client connection, and holds a per-collection lock while an update, findAndModify or
// delete command is in flight.
type proxy struct {
	backend string
	logger  *slog.Logger
	mu      sync.Mutex
	locks   map[string]*sync.Mutex
}

func (p *proxy) lockFor(ns string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locks == nil {
		p.locks = make(map[string]*sync.Mutex)
	}
	l := p.locks[ns]
	if l == nil {
		l = new(sync.Mutex)
		p.locks[ns] = l
	}
	return l
}

func (p *proxy) serve(ctx context.Context, ln net.Listener) {
	var conns sync.Map
	go func() {
		<-ctx.Done()
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	}()
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.logger.Error("accept", "error", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			break
		}
		conns.Store(c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conns.Delete(c)
			p.handle(c)
		}()
	}
	wg.Wait()
}

func (p *proxy) handle(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("unix", p.backend)
	if err != nil {
		p.logger.Error("dial backend", "error", err)
		return
	}
	defer backend.Close()
	if tc, ok := client.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}

	for {
		req, err := readMessage(client)
		if err != nil {
			// Client gone: let FerretDB see a clean end of stream and close its side first.
			if uc, ok := backend.(*net.UnixConn); ok {
				uc.CloseWrite()
				uc.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, uc)
			}
			return
		}
		var l *sync.Mutex
		if ns := serializedNamespace(req); ns != "" {
			l = p.lockFor(ns)
			l.Lock()
		}
		err = p.roundTrip(client, backend, req)
		if l != nil {
			l.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// roundTrip forwards one request and every reply that belongs to it.
func (p *proxy) roundTrip(client, backend net.Conn, req []byte) error {
	if _, err := backend.Write(req); err != nil {
		return err
	}
	if msgFlags(req)&flagMoreToCome != 0 {
		return nil // fire-and-forget (w:0): no reply
	}
	for {
		resp, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(resp); err != nil {
			return err
		}
		if msgFlags(resp)&flagMoreToCome == 0 {
			return nil // exhaust streams end with a reply without moreToCome
		}
	}
}

func readMessage(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.LittleEndian.Uint32(hdr[:])))
	if n < 16 || n > maxMessageSize {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	b := make([]byte, n)
	copy(b, hdr[:])
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return nil, err
	}
	return b, nil
}

// msgFlags returns OP_MSG flag bits, or 0 for other opcodes.
func msgFlags(m []byte) uint32 {
	if len(m) < 20 || binary.LittleEndian.Uint32(m[12:16]) != opMsg {
		return 0
	}
	return binary.LittleEndian.Uint32(m[16:20])
}

// serializedNamespace returns "db.collection" for an OP_MSG update, findAndModify or delete
// command, and "" for anything else.
func serializedNamespace(m []byte) string {
	if len(m) < 21 || binary.LittleEndian.Uint32(m[12:16]) != opMsg {
		return ""
	}
	end := len(m)
	if msgFlags(m)&flagChecksum != 0 {
		end -= 4
	}
	for i := 20; i < end; {
		kind := m[i]
		i++
		if i+4 > end {
			return ""
		}
		size := int(int32(binary.LittleEndian.Uint32(m[i : i+4])))
		if size < 5 || i+size > end {
			return ""
		}
		if kind == 0 {
			return commandNamespace(m[i : i+size])
		}
		i += size // kind 1: document sequence
	}
	return ""
}

// commandNamespace reads the command name (first element), its collection and $db from a BSON document.
func commandNamespace(doc []byte) string {
	var cmd, coll, db string
	first := true
	for i := 4; i < len(doc)-1; {
		t := doc[i]
		i++
		nameEnd := i
		for nameEnd < len(doc) && doc[nameEnd] != 0 {
			nameEnd++
		}
		if nameEnd >= len(doc) {
			return ""
		}
		name := string(doc[i:nameEnd])
		i = nameEnd + 1
		var str string
		isStr := t == 0x02
		size := bsonValueSize(t, doc[i:])
		if size < 0 || i+size > len(doc) {
			return ""
		}
		if isStr && size >= 5 {
			str = string(doc[i+4 : i+size-1])
		}
		if first {
			first = false
			switch strings.ToLower(name) {
			case "update", "findandmodify", "delete":
				cmd = name
			default:
				return ""
			}
			if !isStr {
				return ""
			}
			coll = str
		} else if name == "$db" && isStr {
			db = str
		}
		i += size
	}
	if cmd == "" || db == "" {
		return ""
	}
	return db + "." + coll
}

// bsonValueSize returns the encoded size of a BSON value of type t at the start of b, or -1.
func bsonValueSize(t byte, b []byte) int {
	i32 := func() int {
		if len(b) < 4 {
			return -1
		}
		return int(int32(binary.LittleEndian.Uint32(b)))
	}
	switch t {
	case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
		return 8
	case 0x02, 0x0D, 0x0E: // string, JS code, symbol
		if n := i32(); n >= 1 {
			return 4 + n
		}
		return -1
	case 0x03, 0x04, 0x0F: // document, array, code with scope
		return i32()
	case 0x05: // binary
		if n := i32(); n >= 0 {
			return 4 + 1 + n
		}
		return -1
	case 0x06, 0x0A, 0xFF, 0x7F: // undefined, null, min key, max key
		return 0
	case 0x07: // ObjectId
		return 12
	case 0x08: // bool
		return 1
	case 0x0B: // regex: two cstrings
		n := 0
		for k := 0; k < 2; k++ {
			for n < len(b) && b[n] != 0 {
				n++
			}
			n++
		}
		if n > len(b) {
			return -1
		}
		return n
	case 0x0C: // DBPointer
		if n := i32(); n >= 1 {
			return 4 + n + 12
		}
		return -1
	case 0x10: // int32
		return 4
	case 0x13: // decimal128
		return 16
	}
	return -1
}
