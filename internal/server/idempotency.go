package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/storage"
)

// Idempotency keys (SPEC §3, as Stripe's API): a POST to /graphql with an
// Idempotency-Key header runs once per signed-in viewer and key; a retry
// within storage.IdempotencyTTL gets the first answer again, with
// Idempotent-Replayed: true, and writes nothing. An attempt that failed
// having written nothing that stays (see cleanFailure) gives the key back,
// so that its retry runs.
const (
	idempotencyKeyHeader = "Idempotency-Key"
	replayedHeader       = "Idempotent-Replayed"
	maxIdempotencyKey    = 255
	// maxStoredAnswer bounds what is kept per key: a larger answer is
	// passed through and not kept (mutations answer far less).
	maxStoredAnswer = 1 << 20
	// idempotencyMargin is added to the longest an attempt may run before
	// its record counts as left by a crashed one.
	idempotencyMargin = 10 * time.Second
	// settleKeyTimeout bounds storing an answer or giving a key back.
	settleKeyTimeout = 5 * time.Second
)

// withIdempotency honours Idempotency-Key on POSTs. It runs after withTurns
// (a request waiting for its turn holds no record) and needs the viewer
// (Authenticate runs before). Anonymous requests are passed through with
// the header ignored: every root field needs a signed-in viewer, so they
// write nothing a retry could repeat, keeping them would let strangers
// fill the collection, and a client whose access token expired must get
// its UNAUTHENTICATED (not a 400) to refresh and retry with the same key.
func withIdempotency(store *storage.Store, log *slog.Logger, requestTimeout time.Duration, trusted []netip.Prefix) func(http.Handler) http.Handler {
	// An attempt runs for its request's deadline, and its mutations up to
	// MutationTimeout once begun (graphql.go).
	lease := requestTimeout + MutationTimeout + idempotencyMargin
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header.Values(idempotencyKeyHeader)
			if r.Method != http.MethodPost || len(values) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			if len(values) != 1 || !validIdempotencyKey(values[0]) {
				graphqlError(w, http.StatusBadRequest, "BAD_USER_INPUT",
					"Idempotency-Key: send one key of 1 to 255 visible ASCII characters", "")
				return
			}
			scope, signedIn := clientKey(r, trusted)
			if !signedIn {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				// Let GraphQL answer the unreadable body as it always does.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			sum := sha256.Sum256(body)
			ctx := r.Context()
			claim, err := store.ClaimIdempotencyKey(ctx, scope, values[0], hex.EncodeToString(sum[:]), lease)
			if err != nil {
				id := requestid.From(ctx)
				log.ErrorContext(ctx, "idempotency: claiming a key failed", "request_id", id, "err", err)
				graphqlError(w, http.StatusServiceUnavailable, "INTERNAL",
					"the Idempotency-Key could not be checked; retry with the same key", id)
				return
			}
			switch claim.Outcome {
			case storage.IdempotencyReplay:
				a := claim.Answer
				w.Header().Set("Content-Type", a.ContentType)
				w.Header().Set(replayedHeader, "true")
				w.WriteHeader(a.Status)
				_, _ = w.Write(a.Body)
			case storage.IdempotencyMismatch:
				graphqlError(w, http.StatusUnprocessableEntity, "BAD_USER_INPUT",
					"this Idempotency-Key was used with a different request", "")
			case storage.IdempotencyRun:
				runOnce(w, r, next, store, log, claim)
			default: // storage.IdempotencyInProgress
				w.Header().Set("Retry-After", "1")
				graphqlError(w, http.StatusConflict, "CONFLICT",
					"a request with this Idempotency-Key is in progress; retry after it finishes", "")
			}
		})
	}
}

// runOnce runs the request that holds claim, then keeps its answer, or
// gives the key back when the attempt may be run again. The answer is held
// until then: a client that retries the moment it reads a failure must
// find the key given back, not still running.
func runOnce(w http.ResponseWriter, r *http.Request, next http.Handler, store *storage.Store, log *slog.Logger, claim storage.IdempotencyClaim) {
	ctx, track := storage.WithTrack(r.Context())
	rec := &answerRecorder{w: w, status: http.StatusOK}
	settle := func(keep bool) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), settleKeyTimeout)
		defer cancel()
		var err error
		if keep {
			err = store.FinishIdempotencyKey(sctx, claim, storage.StoredAnswer{Status: rec.status,
				ContentType: w.Header().Get("Content-Type"), Body: rec.buf.Bytes()})
		} else {
			err = store.ReleaseIdempotencyKey(sctx, claim)
		}
		if err != nil {
			// Kept running, the record is taken over once its lease passes.
			log.ErrorContext(sctx, "idempotency: settling a key failed", "request_id", requestid.From(sctx), "keep", keep, "err", err)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			// recoverPanics answers 500; the key keeps that answer if a
			// write stayed, and is given back otherwise.
			if track.Kept() {
				rec.status, rec.passed = http.StatusInternalServerError, false
				rec.buf.Reset()
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(&rec.buf).Encode(map[string]string{"error": "internal error", "requestId": requestid.From(ctx)})
			}
			settle(track.Kept())
			panic(v)
		}
	}()
	next.ServeHTTP(rec, r.WithContext(ctx))
	if rec.passed {
		// Too large to keep. If it wrote, a retry must still not run it
		// again: what is kept says so instead of the answer.
		if track.Kept() {
			rec.status = http.StatusConflict
			rec.buf.Reset()
			_ = json.NewEncoder(&rec.buf).Encode(map[string]any{"errors": []any{map[string]any{
				"message":    "a request with this Idempotency-Key ran already; its answer (over 1 MiB) was not kept: read what it changed",
				"extensions": map[string]any{"code": "CONFLICT"}}}})
		}
		settle(track.Kept())
		return
	}
	settle(!cleanFailure(rec.buf.Bytes(), track))
	rec.flush()
}

// cleanFailure reports whether an attempt may be run again: it wrote
// nothing that stays (the facade says so, and no root field has data) and
// it failed for a reason that passes: on the server's side (INTERNAL), or
// by the moment's contention (CONFLICT: changed under it more often than it
// retries; RATE_LIMITED), as Stripe keeps no result for requests that
// conflicted, or before it ran at all for what its headers said
// (BAD_REQUEST: an Accept or Content-Type the key's body hash does not
// cover). Other client errors are final: the same request would get them
// again.
func cleanFailure(body []byte, track *storage.Track) bool {
	if track.Kept() {
		return false
	}
	var answer struct {
		Data   map[string]json.RawMessage
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	if json.Unmarshal(body, &answer) != nil {
		return false
	}
	for _, v := range answer.Data {
		if string(v) != "null" {
			return false
		}
	}
	for _, e := range answer.Errors {
		switch e.Extensions.Code {
		case "INTERNAL", "CONFLICT", "RATE_LIMITED", codeBadRequest:
			return true
		}
	}
	return false
}

// validIdempotencyKey: 1 to 255 visible ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := range len(k) {
		if k[i] < '!' || k[i] > '~' {
			return false
		}
	}
	return true
}

// answerRecorder holds a handler's answer to be kept (headers go to the
// real writer as the handler sets them). One larger than maxStoredAnswer
// is passed through from then on and is not kept.
type answerRecorder struct {
	w      http.ResponseWriter
	status int
	header bool // the handler chose the status
	buf    bytes.Buffer
	// passed: the answer outgrew the buffer and went out; sent: what was
	// held has been sent.
	passed, sent bool
}

func (a *answerRecorder) Header() http.Header { return a.w.Header() }

func (a *answerRecorder) WriteHeader(status int) {
	if !a.header {
		a.status, a.header = status, true
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	a.header = true
	if a.sent {
		return a.w.Write(b)
	}
	if a.buf.Len()+len(b) <= maxStoredAnswer {
		return a.buf.Write(b)
	}
	a.passed = true
	a.flush()
	return a.w.Write(b)
}

// flush sends what is held to the client, once.
func (a *answerRecorder) flush() {
	if a.sent {
		return
	}
	a.sent = true
	a.w.WriteHeader(a.status)
	_, _ = a.w.Write(a.buf.Bytes()) // the client may be gone; nothing to do then
}

// Unwrap lets http.ResponseController reach the real writer.
func (a *answerRecorder) Unwrap() http.ResponseWriter { return a.w }

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// graphqlError answers with a GraphQL-shaped error of our own (the shape
// of rateLimited's 429), with the request id for a server fault.
func graphqlError(w http.ResponseWriter, status int, code, msg, requestID string) {
	ext := map[string]any{"code": code}
	if requestID != "" {
		ext["requestId"] = requestID
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": ext}}})
}
