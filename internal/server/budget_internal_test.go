package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/todo-backend/todo/graph"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxy", peer: "203.0.113.7:5000", want: "203.0.113.7"},
		{name: "a header from an untrusted peer is the client's own word", peer: "203.0.113.7:5000",
			xff: []string{"198.51.100.1"}, trusted: proxies, want: "203.0.113.7"},
		{name: "a header from a peer when none is trusted", peer: "10.1.2.3:5000", xff: []string{"198.51.100.1"}, want: "10.1.2.3"},
		{name: "behind one proxy", peer: "10.1.2.3:5000", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "entries the client wrote are skipped", peer: "10.1.2.3:5000",
			xff: []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "several header lines", peer: "10.1.2.3:5000",
			xff: []string{"1.1.1.1", "198.51.100.1", "10.9.9.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "an unreadable hop stops the walk", peer: "10.1.2.3:5000",
			xff: []string{"1.1.1.1, bogus, 10.9.9.9"}, trusted: proxies, want: "10.9.9.9"},
		{name: "only proxies", peer: "10.1.2.3:5000", xff: []string{"10.9.9.9"}, trusted: proxies, want: "10.9.9.9"},
		{name: "IPv6 peer", peer: "[2001:db8::1]:5000", want: "2001:db8::1"},
		{name: "IPv4-mapped peer", peer: "[::ffff:203.0.113.7]:5000", want: "203.0.113.7"},
		{name: "IPv6 proxy", peer: "[fd00::5]:5000", xff: []string{"2001:db8::9"}, trusted: proxies, want: "2001:db8::9"},
		{name: "a hop with a port", peer: "10.1.2.3:5000", xff: []string{"198.51.100.1:4711"}, trusted: proxies, want: "198.51.100.1"},
		{name: "a bracketed IPv6 hop", peer: "10.1.2.3:5000", xff: []string{"[2001:db8::9]"}, trusted: proxies, want: "2001:db8::9"},
		{name: "a bracketed IPv6 hop with a port", peer: "10.1.2.3:5000", xff: []string{"[2001:db8::9]:443"}, trusted: proxies, want: "2001:db8::9"},
		{name: "an IPv4-mapped hop", peer: "10.1.2.3:5000", xff: []string{"::ffff:198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "empty entries are skipped", peer: "10.1.2.3:5000", xff: []string{"198.51.100.1, ,", ""}, trusted: proxies, want: "198.51.100.1"},
		{name: "a zoned peer", peer: "[fd00::5%eth0]:5000", xff: []string{"2001:db8::9"}, trusted: proxies, want: "2001:db8::9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trusted).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAddressKey(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"203.0.113.7":             "203.0.113.7",
		"2001:db8:0:0:1::1":       "2001:db8::/64",
		"2001:db8::ffff:1:2":      "2001:db8::/64",
		"2001:db8:0:1:1:2:3:4":    "2001:db8:0:1::/64",
		"fe80::1234:5678:9abc:de": "fe80::/64",
	} {
		if got := addressKey(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: got %s, want %s", addr, got, want)
		}
	}
	if got := addressKey(netip.Addr{}); got != "unknown" {
		t.Errorf("no address: got %s, want unknown", got)
	}
}

// inFlight: limit holders per key, a waiter that runs out of time gets an
// error, a freed slot goes to the next, other keys are not held up, and a
// key nobody holds or waits for is forgotten.
func TestInFlight(t *testing.T) {
	t.Parallel()
	f := newInFlight(2)
	ctx := context.Background()
	a1, err := f.enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := f.enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := f.enter(short, "a"); err == nil {
		t.Fatal("a third request of a got a turn while two ran, want it to wait until its deadline")
	}
	b, err := f.enter(ctx, "b")
	if err != nil {
		t.Fatalf("another client waited behind a: %v", err)
	}
	b()
	a1()
	a3, err := f.enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// A waiter gets the slot a holder gives back.
	got := make(chan func(), 1)
	go func() {
		leave, err := f.enter(ctx, "a")
		if err != nil {
			t.Error(err)
			leave = func() {}
		}
		got <- leave
	}()
	select {
	case <-got:
		t.Fatal("a third request of a got a turn while two ran")
	case <-time.After(20 * time.Millisecond):
	}
	a2()
	(<-got)()
	a3()
	// Past limit running and maxWaitingTurns × limit waiting, a request is
	// told at once.
	small := newInFlight(1)
	hold, err := small.enter(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	waiting, stop := context.WithCancel(ctx)
	var waiters sync.WaitGroup
	for range maxWaitingTurns {
		waiters.Go(func() { _, _ = small.enter(waiting, "c") })
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		small.mu.Lock()
		n := small.keys["c"].users
		small.mu.Unlock()
		if n == 1+maxWaitingTurns {
			break
		}
	}
	if _, err := small.enter(ctx, "c"); !errors.Is(err, errTooManyWaiting) {
		t.Errorf("one more than the queue holds: got %v, want errTooManyWaiting", err)
	}
	stop()
	waiters.Wait()
	hold()
	if n := len(small.keys); n != 0 {
		t.Errorf("%d clients remembered after the queue emptied, want 0", n)
	}
	if n := len(f.keys); n != 0 {
		t.Errorf("%d clients remembered after all left, want 0", n)
	}
}

// Every field named for its own per-parent query is one of the schema's:
// a rename must not quietly take it out of its turns.
func TestPerParentQueriesExist(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for typ, fields := range perParentQueries {
		for field := range fields {
			def := schema.Types[typ]
			if def == nil || def.Fields.ForName(field) == nil {
				t.Errorf("%s.%s is not a field of the schema", typ, field)
			}
		}
	}
	n := 0
	for _, def := range schema.Types {
		if f := def.Fields.ForName("totalCount"); f != nil && !def.BuiltIn {
			if !isPerParentQuery(def.Name, "totalCount") {
				t.Errorf("%s.totalCount does not take turns", def.Name)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no totalCount field found in the schema")
	}
}

// A request that finds a free turn gets it, even past its deadline (a 1 ms
// REQUEST_TIMEOUT on a loaded machine): the wait is what the deadline
// bounds. A select on both ready cases refused about half of them.
func TestAFreeTurnIsTakenPastTheDeadline(t *testing.T) {
	t.Parallel()
	f := newInFlight(2)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 20 {
		leave, err := f.enter(ended, "client")
		if err != nil {
			t.Fatalf("try %d: a free turn past the deadline: got %v, want it taken", i, err)
		}
		leave()
	}
	// With every turn taken, the ended deadline refuses at once.
	a, _ := f.enter(context.Background(), "client")
	b, _ := f.enter(context.Background(), "client")
	defer a()
	defer b()
	if _, err := f.enter(ended, "client"); !errors.Is(err, context.Canceled) {
		t.Errorf("no free turn, deadline ended: got %v, want the context's error", err)
	}
}
