package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/hostile"
)

// TestRefusalsCostLittle sends the attacks of issue 9 to a `todo serve`
// process (built without the race detector, embedded stores) and measures,
// through the process's own CPU time in /proc, what each refusal costs it:
// under 20 ms, whatever the document's size up to the body limit. Each
// attack is sent reps times and the CPU time divided, so the clock's 10 ms
// ticks do not blur the figure.
func TestRefusalsCostLittle(t *testing.T) {
	t.Parallel() // it sets no variable of this process: the server is a process of its own
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Fatalf("this test reads the server's CPU time from /proc: %v", err)
	}
	bin := todoBinary(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "ENV=development", "PORT="+strconv.Itoa(port), "DATA_DIR="+t.TempDir(),
		"MONGODB_URI=", "POSTGRES_DSN=", "POSTGRES_HOST=", "AUTH_DEV_LOGIN=true", "GOOGLE_OAUTH_CLIENT_ID=",
		"REQUEST_RATE=0") // the attacks are sent faster than any budget; TestRequestBudget tests it
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	s := &process{base: base, log: log}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(base + "/v1/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("todo serve did not get healthy:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.devLogin(t, "attacker@example.com")

	const reps = 20
	for _, a := range hostile.Attacks() {
		token := s.token
		if a.Anonymous {
			token = ""
		}
		var req func() (*http.Response, error)
		if a.Method == http.MethodGet {
			u := base + "/graphql?query=" + url.QueryEscape(a.Query)
			req = func() (*http.Response, error) { return get(u, token) }
		} else {
			body, _ := json.Marshal(map[string]any{"query": a.Query, "variables": a.Vars})
			req = func() (*http.Response, error) { return post(base+"/graphql", token, body) }
		}
		before := cpuTicks(t, cmd.Process.Pid)
		for range reps {
			resp, err := req()
			if err != nil {
				t.Fatalf("%s: %v", a.Name, err)
			}
			var g struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			err = json.NewDecoder(resp.Body).Decode(&g)
			resp.Body.Close()
			switch {
			case resp.StatusCode != a.Status:
				t.Fatalf("%s: HTTP %d %+v, want %d", a.Name, resp.StatusCode, g.Errors, a.Status)
			case a.Status == http.StatusRequestEntityTooLarge:
			case err != nil || len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT":
				t.Fatalf("%s: %+v (%v), want one BAD_USER_INPUT", a.Name, g.Errors, err)
			}
		}
		perRequest := time.Duration(cpuTicks(t, cmd.Process.Pid)-before) * tick / reps
		t.Logf("%-30s refused (%d B): %v of server CPU per refusal", a.Name, len(a.Query)+len(fmt.Sprint(a.Vars)), perRequest)
		if perRequest >= 20*time.Millisecond {
			t.Errorf("%s: a refusal cost the server %v of CPU, want under 20ms", a.Name, perRequest)
		}
	}
}

// tick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const tick = 10 * time.Millisecond

// cpuTicks reads a process's user plus system time from /proc/PID/stat.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces: fields count from after its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return utime + stime
}

func get(u, token string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultClient.Do(req)
}

func post(u, token string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultClient.Do(req)
}
