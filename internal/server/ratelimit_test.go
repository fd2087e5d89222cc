package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/todo-backend/todo/storage"
)

const (
	joinQ   = `mutation($c: String!) { joinTeam(inviteCode: $c) { id } }`
	verifyQ = `mutation($c: String!) { verifyTeamCreationInviteCode(code: $c) }`
	createQ = `mutation($in: CreateTeamInput!) { createTeam(input: $in) { id inviteCode } }`
	// wrongVerify is what a wrong creation code verifies to: an answer, not an error.
	wrongVerify = `{"verifyTeamCreationInviteCode":false}`
)

// outcome posts one operation as p and names how it ended: the first
// error's code, or the data when there was none. Unlike graphqlAs it is
// safe from any goroutine: trouble is an outcome too, never t.Fatal.
func (e *env) outcome(p person, query string, vars map[string]any) string {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return "request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "post: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, b)
	}
	var g gqlResponse
	if err := json.Unmarshal(b, &g); err != nil {
		return fmt.Sprintf("undecodable: %s", b)
	}
	if len(g.Errors) == 0 {
		return string(g.Data)
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	if strings.Contains(g.Errors[0].Message, "E11000") {
		return c + " naming E11000: " + g.Errors[0].Message
	}
	return c
}

// concurrently sends n operations as p at once (vars(i) for the i-th) and
// tallies their outcomes.
func (e *env) concurrently(p person, n int, query string, vars func(i int) map[string]any) map[string]int {
	var (
		mu    sync.Mutex
		tally = map[string]int{}
		wg    sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			o := e.outcome(p, query, vars(i))
			mu.Lock()
			tally[o]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return tally
}

// wantTally fails unless the outcomes are exactly want.
func wantTally(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	for o, n := range got {
		if want[o] != n {
			t.Errorf("%s: got %d × %s, want %d (all outcomes: %v)", what, n, o, want[o], got)
		}
	}
	for o, n := range want {
		if _, ok := got[o]; !ok && n > 0 {
			t.Errorf("%s: got no %s, want %d (all outcomes: %v)", what, o, n, got)
		}
	}
}

func wrongCode(i int) map[string]any { return map[string]any{"c": fmt.Sprintf("WRONG%05d", i)} }

func teamWithCode(code string) map[string]any {
	return map[string]any{"in": map[string]any{"name": "Guessers", "creationCode": code}}
}

// mint has admin make a fresh team-creation code.
func (e *env) mint(t *testing.T, admin person) string {
	t.Helper()
	var d struct{ GenerateTeamCreationInviteCode struct{ Code string } }
	e.must(t, admin, `mutation { generateTeamCreationInviteCode { code } }`, nil, &d)
	return d.GenerateTeamCreationInviteCode.Code
}

// newGuessEnv serves the API with no per-client request budget and no cap on
// a client's requests in flight, so that every guess reaches the code
// limiter at once, as guesses spread over several instances would.
func newGuessEnv(t *testing.T) (*env, person) {
	t.Helper()
	e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"ADMIN_EMAILS": scenarioAdmin, "REQUEST_CONCURRENCY": "0"}})
	return e, e.person(t, scenarioAdmin)
}

// TestConcurrentWrongCodesAreLimited sends 100 wrong codes at once: exactly
// JoinAttempts of them may be evaluated, the rest are RATE_LIMITED, and no
// race inside the limiter reaches a client as INTERNAL.
func TestConcurrentWrongCodesAreLimited(t *testing.T) {
	e, admin := newGuessEnv(t)
	limited := 100 - storage.JoinAttempts

	joiner := e.person(t, "joiner@example.com")
	wantTally(t, "100 wrong join codes at once", e.concurrently(joiner, 100, joinQ, wrongCode),
		map[string]int{"BAD_USER_INPUT": storage.JoinAttempts, "RATE_LIMITED": limited})

	verifier := e.person(t, "verifier@example.com")
	wantTally(t, "100 wrong creation codes verified at once", e.concurrently(verifier, 100, verifyQ, wrongCode),
		map[string]int{wrongVerify: storage.JoinAttempts, "RATE_LIMITED": limited})
	e.expect(t, verifier, "createTeam with the right code after 10 wrong verifications", createQ,
		teamWithCode(e.mint(t, admin)), "RATE_LIMITED", "")

	creator := e.person(t, "creator@example.com")
	wantTally(t, "100 teams created at once with wrong codes",
		e.concurrently(creator, 100, createQ, func(i int) map[string]any { return teamWithCode(wrongCode(i)["c"].(string)) }),
		map[string]int{"BAD_USER_INPUT": storage.JoinAttempts, "RATE_LIMITED": limited})
	e.expect(t, creator, "verifying a code after 10 wrong ones in createTeam", verifyQ, wrongCode(0), "RATE_LIMITED", "")
}

// TestCreationCodeBudgetIsShared: createTeam and verifyTeamCreationInviteCode
// guess at the same secret, so their wrong codes count against one budget.
func TestCreationCodeBudgetIsShared(t *testing.T) {
	parallel(t)
	e, admin := newGuessEnv(t)
	p := e.person(t, "sharer@example.com")
	for i := range storage.JoinAttempts - 1 {
		if got := e.outcome(p, verifyQ, wrongCode(i)); got != wrongVerify {
			t.Fatalf("wrong verification %d: got %s, want %s", i+1, got, wrongVerify)
		}
	}
	e.expect(t, p, "the 10th wrong code, in createTeam", createQ, teamWithCode("WRONGCREATE1"), "BAD_USER_INPUT", "input.creationCode")
	e.expect(t, p, "an 11th wrong code, in createTeam", createQ, teamWithCode("WRONGCREATE2"), "RATE_LIMITED", "")
	e.expect(t, p, "an 11th wrong code, verified", verifyQ, wrongCode(99), "RATE_LIMITED", "")
	e.expect(t, p, "the right code, once the budget is spent", createQ, teamWithCode(e.mint(t, admin)), "RATE_LIMITED", "")
}

// TestRightCodesDoNotSpendTheBudget: only wrong codes count; a right one
// between them leaves the budget as it was.
func TestRightCodesDoNotSpendTheBudget(t *testing.T) {
	parallel(t)
	e, admin := newGuessEnv(t)
	owner := e.person(t, "owner@example.com")
	var team struct {
		CreateTeam struct{ ID, InviteCode string }
	}

	// The creation code: 9 wrong, then right ones in verify and createTeam.
	for i := range storage.JoinAttempts - 1 {
		e.expect(t, owner, fmt.Sprintf("wrong creation code %d", i+1), createQ, teamWithCode(fmt.Sprintf("WRONGCREATE%d", i)), "BAD_USER_INPUT", "input.creationCode")
	}
	code := e.mint(t, admin)
	for i := range 3 {
		if got := e.outcome(owner, verifyQ, map[string]any{"c": code}); got != `{"verifyTeamCreationInviteCode":true}` {
			t.Errorf("verifying the right code, time %d: got %s, want true", i+1, got)
		}
	}
	e.must(t, owner, createQ, teamWithCode(code), &team)
	if got := e.outcome(owner, verifyQ, wrongCode(0)); got != wrongVerify {
		t.Errorf("the 10th wrong creation code: got %s, want %s", got, wrongVerify)
	}
	e.expect(t, owner, "the 11th wrong creation code", verifyQ, wrongCode(1), "RATE_LIMITED", "")

	// The join code: 9 wrong, then the right one.
	joiner := e.person(t, "joiner@example.com")
	for i := range storage.JoinAttempts - 1 {
		e.expect(t, joiner, fmt.Sprintf("wrong join code %d", i+1), joinQ, wrongCode(i), "BAD_USER_INPUT", "inviteCode")
	}
	e.must(t, joiner, joinQ, map[string]any{"c": team.CreateTeam.InviteCode}, nil)
	e.expect(t, joiner, "joining again: a right code, a conflict", joinQ, map[string]any{"c": team.CreateTeam.InviteCode}, "CONFLICT", "")
	e.expect(t, joiner, "the 10th wrong join code", joinQ, wrongCode(9), "BAD_USER_INPUT", "inviteCode")
	e.expect(t, joiner, "the 11th wrong join code", joinQ, wrongCode(10), "RATE_LIMITED", "")
}
