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
	"strings"
	"sync"
	"time"
)

// attacks are the hostile requests of issue 9, at the sizes measured there.
func attacks(base, token string) []func(*http.Client) {
	rep := strings.Repeat
	aliases := func(field string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: %s ", i, field)
		}
		return b.String()
	}
	post := func(query string, vars map[string]any, tok string) func(*http.Client) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return func(c *http.Client) {
			req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			if resp, err := c.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	get := func(query string) func(*http.Client) {
		u := base + "/graphql?query=" + url.QueryEscape(query)
		return func(c *http.Client) {
			if resp, err := c.Get(u); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	big := rep("a", 100<<10)
	return []func(*http.Client){
		post("{ me { "+rep("id ", 5000)+"} }", nil, ""),
		post("{ me { "+rep("id ", 10000)+"} }", nil, ""),
		post("{ me { "+rep("id ", 50000)+"} }", nil, ""),
		get("{ me { " + rep("id ", 20000) + "} }"),
		post("{ "+rep("__typename ", 10000)+"}", nil, ""),
		post("{ "+aliases("taskSummary { overdue }", 5000)+"}", nil, token),
		post(`query($s: String!) { users(search: $s) { totalCount } }`, map[string]any{"s": big}, token),
		post(`query($s: String) { labels(search: $s) { totalCount } }`, map[string]any{"s": rep("a", 900<<10)}, token),
	}
}

// measureHostile runs 8 legitimate clients (4 listing, 4 creating tasks)
// for d, first alone, then while a ninth sends every attack in a loop.
func measureHostile(ctx context.Context, srv *process, o benchOptions, viewer, creator *client, assignee string) []result {
	var out []result
	for _, attacked := range []bool{false, true} {
		label := "alone"
		stop := make(chan struct{})
		var wg sync.WaitGroup
		sent := 0
		if attacked {
			label = "attacked"
			hc := &http.Client{Timeout: 30 * time.Second}
			list := attacks(srv.base, viewer.token)
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
		fmt.Fprintf(os.Stderr, "hostile (%s):\n", label)
		var lr, cr result
		var lw sync.WaitGroup
		lw.Go(func() {
			lr = load(ctx, "list ("+label+")", o.modes[0], 4, o.duration, srv.cpuTime, func(int, int) error {
				return viewer.do(listQuery, nil, nil)
			})
		})
		lw.Go(func() {
			cr = load(ctx, "createTask ("+label+")", o.modes[0], 4, o.duration, srv.cpuTime, func(k, i int) error {
				in := map[string]any{"title": fmt.Sprintf("hostile %s %d-%d", label, k, i), "assignee": map[string]any{"userId": assignee}}
				return creator.do(createQuery, map[string]any{"in": in}, nil)
			})
		})
		lw.Wait()
		close(stop)
		wg.Wait()
		if attacked {
			fmt.Fprintf(os.Stderr, "  the attacker sent %d hostile requests\n", sent)
		}
		// CPU per request is not the legitimate clients' alone here.
		lr.cpu, cr.cpu = 0, 0
		out = append(out, lr, cr)
	}
	return out
}
