package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/todo-backend/todo/internal/hostile"
)

// attacks turns the hostile requests of issue 9 (internal/hostile), the
// refused ones and the heavy ones that are answered, into functions that
// send them, authenticated with token where they are not anonymous.
func attacks(base, token string, list []hostile.Attack) []func(*http.Client) {
	var out []func(*http.Client)
	for _, a := range list {
		tok := token
		if a.Anonymous {
			tok = ""
		}
		var send func(*http.Client) (*http.Response, error)
		if a.Method == http.MethodGet {
			u := base + "/graphql?query=" + url.QueryEscape(a.Query)
			send = func(c *http.Client) (*http.Response, error) { return c.Get(u) }
		} else {
			body, _ := json.Marshal(map[string]any{"query": a.Query, "variables": a.Vars})
			send = func(c *http.Client) (*http.Response, error) {
				req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				return c.Do(req)
			}
		}
		out = append(out, func(c *http.Client) {
			if resp, err := send(c); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	return out
}

// measureHostile runs 8 legitimate clients (4 listing, 4 creating tasks)
// for d, first alone, then while a ninth sends every refused attack in a
// loop, then while it sends the heavy (answered) ones.
//
// budgets names the server's request budgets ("off": REQUEST_RATE=0, the
// worst case; "on": the defaults, under which the legitimate clients stay
// and the attacker does not), and goes into each result's label.
func measureHostile(ctx context.Context, srv *process, o benchOptions, budgets string, seed bool) ([]result, error) {
	viewer, creator, err := benchUsers(srv.base)
	if err != nil {
		return nil, err
	}
	assignee := creator.id
	// The attacker is a user of its own, with 100 tasks of its own for its
	// heavy requests to read (it is in no team: the team attack finds none).
	attacker, err := login(srv.base, "attacker@bench.test")
	if err != nil {
		return nil, err
	}
	for i := range 100 {
		if !seed {
			break
		}
		in := map[string]any{"title": fmt.Sprintf("attacker %d", i)}
		if err := attacker.do(createQuery, map[string]any{"in": in}, nil); err != nil {
			return nil, err
		}
	}
	runs := []struct {
		label   string
		attacks []hostile.Attack
	}{{"alone", nil}, {"refused", hostile.Attacks()}, {"heavy", hostile.Heavy()}}
	// The runs take turns in short slices, round after round: the data
	// grows under createTask and FerretDB scans what it holds, so runs one
	// after the other would give the later ones more to read.
	const rounds = 5
	slice := o.hostileDuration / rounds
	merged := map[string]*result{}
	var order []string
	add := func(r result) {
		if m := merged[r.op]; m != nil {
			*m = mergeResults(*m, r)
			return
		}
		merged[r.op] = &r
		order = append(order, r.op)
	}
	for round := range rounds {
		for _, run := range runs {
			label := run.label + ", budgets " + budgets
			attacked := run.attacks != nil
			stop := make(chan struct{})
			var wg sync.WaitGroup
			sent := 0
			if attacked {
				hc := &http.Client{Timeout: 30 * time.Second}
				list := attacks(srv.base, attacker.token, run.attacks)
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						list[i%len(list)](hc)
						sent++
					}
				})
			}
			fmt.Fprintf(os.Stderr, "hostile (%s), round %d:\n", label, round+1)
			var lr, cr result
			var lw sync.WaitGroup
			lw.Go(func() {
				lr = load(ctx, "list ("+label+")", o.modes[0], 4, slice, srv.cpuTime, func(int, int) error {
					return viewer.do(listQuery, nil, nil)
				})
			})
			lw.Go(func() {
				cr = load(ctx, "createTask ("+label+")", o.modes[0], 4, slice, srv.cpuTime, func(k, i int) error {
					in := map[string]any{"title": fmt.Sprintf("hostile %s %d-%d-%d", label, round, k, i), "assignee": map[string]any{"userId": assignee}}
					return creator.do(createQuery, map[string]any{"in": in}, nil)
				})
			})
			lw.Wait()
			close(stop)
			wg.Wait()
			if attacked {
				fmt.Fprintf(os.Stderr, "  the attacker sent %d hostile requests\n", sent)
			}
			add(lr)
			add(cr)
		}
	}
	var out []result
	for _, op := range order {
		r := *merged[op]
		r.cpu = 0 // not the legitimate clients' alone here
		fmt.Fprintf(os.Stderr, "  %-40s %5d requests  %5.1f req/s  p50 %v  p99 %v  errors %d\n",
			r.op, r.n, r.rate, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.errors)
		out = append(out, r)
	}
	return out, nil
}

// mergeResults adds b's requests to a's: latencies, counts and time.
func mergeResults(a, b result) result {
	a.lat = append(append([]time.Duration(nil), a.lat...), b.lat...)
	slices.Sort(a.lat)
	if a.n+b.n > 0 {
		w := func(x, y time.Duration) time.Duration {
			return (x*time.Duration(a.n) + y*time.Duration(b.n)) / time.Duration(a.n+b.n)
		}
		a.cpu, a.machine, a.ferret = w(a.cpu, b.cpu), w(a.machine, b.machine), w(a.ferret, b.ferret)
	}
	a.n += b.n
	a.errors += b.errors
	a.wall += b.wall
	a.rate = float64(a.n) / a.wall.Seconds()
	if len(a.lat) > 0 {
		a.p50, a.p99 = a.lat[len(a.lat)/2], a.lat[min(len(a.lat)-1, len(a.lat)*99/100)]
	}
	return a
}
