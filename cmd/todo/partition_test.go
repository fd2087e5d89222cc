package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// blackhole listens on a loopback port and accepts connections that never
// answer, as a PostgreSQL behind a partition that drops packets looks.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestSyncStatusDuringPartition: with PostgreSQL blackholed, `todo sync
// status` answers within 3 s with MongoDB's figures, says PostgreSQL did
// not answer, and exits non-zero.
func TestSyncStatusDuringPartition(t *testing.T) {
	env := newToolEnv(t)
	env.vars["POSTGRES_DSN"] = "postgres://postgres@" + blackhole(t) + "/todo?sslmode=disable&connect_timeout=30"
	isolateEnv(t, env.vars)
	start := time.Now()
	code, out, errOut := todo(t, "sync", "status")
	took := time.Since(start)
	if took > 3*time.Second {
		t.Errorf("sync status during a partition took %s, want within 3 s", took.Round(time.Millisecond))
	}
	if code == 0 || !strings.Contains(out, "postgres: unavailable") || !strings.Contains(out, "pending 0, failed 0") {
		t.Errorf("sync status during a partition: exit %d\nstdout:\n%s\nstderr:\n%s\nwant a non-zero exit, MongoDB's figures and postgres named unavailable",
			code, out, errOut)
	}
	t.Logf("answered in %s", took.Round(time.Millisecond))
}
