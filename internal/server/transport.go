package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/todo-backend/todo/internal/requestid"
)

// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/), as
// graphql-http's audit checks it; gqlgen's GET and POST transports fall
// short of it (422 for request errors, "data": null where the spec wants no
// data entry, INTERNAL for bodies a client got wrong), so this one is ours.
//
//   - GET (queries only; a mutation gets 405 with Allow: POST) takes query,
//     operationName, variables and extensions from the URL, the last two
//     JSON-encoded; POST takes a JSON object (application/json).
//   - The answer's media type follows Accept: application/graphql-response+json
//     when the client prefers it, application/json otherwise (and when it
//     sends no Accept); neither acceptable: 406.
//   - A request the server cannot read (bad JSON, wrong types, no query, a
//     batch, another media type) is 4xx with extensions.code BAD_REQUEST
//     (413 too large, 415 not JSON), and no data entry.
//   - A document that does not parse or validate, or variables that do not
//     coerce: 200 with the errors under application/json, 400 and no data
//     entry under application/graphql-response+json.
//   - Otherwise 200 with data (and any field errors).
//
// Errors of the server's own go through the error presenter (resolvers),
// which alone logs: INTERNAL at ERROR, nothing else.

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
	// codeBadRequest: the HTTP request itself is not a GraphQL request the
	// server can read.
	codeBadRequest = "BAD_REQUEST"
)

type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	// The answer depends on Accept and on who asks: no shared cache keeps it.
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "private, no-store")
	media, ok := negotiate(r.Header.Values("Accept"))
	if !ok {
		writeRequestError(w, r, mediaJSON, http.StatusNotAcceptable,
			"the response can be application/graphql-response+json or application/json; Accept allows neither")
		return
	}
	start := graphql.Now()
	params, status, err := readParams(r)
	if err != nil {
		writeRequestError(w, r, media, status, err.Error())
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// The document did not parse or validate, or the variables did
		// not coerce: a request error, with no data entry.
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeResponse(w, media, status, requestErrorBody{Errors: resp.Errors, Extensions: resp.Extensions})
		return
	}
	if r.Method == http.MethodGet && rc.Operation != nil && rc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		writeRequestError(w, r, media, http.StatusMethodNotAllowed,
			fmt.Sprintf("a %s is sent with POST; GET is for queries", rc.Operation.Operation))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if resp == nil {
		// No result at all: the request's time ran out before the
		// operation began. Said so, through the presenter.
		err := ctx.Err()
		if err == nil {
			err = errors.New("the operation gave no result")
		}
		resp = exec.DispatchError(ctx, gqlerror.List{{Message: err.Error(), Err: err}})
	}
	writeResponse(w, media, http.StatusOK, resp)
}

// requestErrorBody is a response without a data entry.
type requestErrorBody struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// readParams reads a GET's URL or a POST's body into the request's
// parameters; on failure it returns the status to answer and why, in words
// a client developer can act on.
func readParams(r *http.Request) (*graphql.RawParams, int, error) {
	if r.Method == http.MethodGet {
		return readGET(r)
	}
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || media != mediaJSON {
		return nil, http.StatusUnsupportedMediaType, errors.New("the body must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d bytes", tooLarge.Limit)
		}
		return nil, http.StatusBadRequest, errors.New("the body could not be read")
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, http.StatusBadRequest, errors.New("the body is empty; send a JSON object with a query")
	case body[0] == '[':
		return nil, http.StatusBadRequest, errors.New("batched requests (a JSON array) are not supported; send one JSON object")
	case body[0] != '{':
		return nil, http.StatusBadRequest, errors.New("the body must be a JSON object with a query")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("the body is not valid JSON: %s", shortJSONError(err))
	}
	p := &graphql.RawParams{}
	if err := stringParam(raw, "query", &p.Query, true); err != nil {
		return nil, http.StatusBadRequest, err
	}
	if err := stringParam(raw, "operationName", &p.OperationName, false); err != nil {
		return nil, http.StatusBadRequest, err
	}
	if err := objectParam(raw["variables"], "variables", &p.Variables); err != nil {
		return nil, http.StatusBadRequest, err
	}
	if err := objectParam(raw["extensions"], "extensions", &p.Extensions); err != nil {
		return nil, http.StatusBadRequest, err
	}
	return p, 0, nil
}

// readGET reads the parameters of a GET from its URL.
func readGET(r *http.Request) (*graphql.RawParams, int, error) {
	q := r.URL.Query()
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	if p.Query == "" {
		return nil, http.StatusBadRequest, errors.New("the query parameter is missing")
	}
	if v := q.Get("variables"); v != "" {
		if err := objectParam(json.RawMessage(v), "variables", &p.Variables); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	if v := q.Get("extensions"); v != "" {
		if err := objectParam(json.RawMessage(v), "extensions", &p.Extensions); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	return p, 0, nil
}

// stringParam reads a string member (null counts as absent).
func stringParam(raw map[string]json.RawMessage, name string, into *string, required bool) error {
	v, ok := raw[name]
	if !ok || string(v) == "null" {
		if required {
			return fmt.Errorf("the %s parameter is missing", name)
		}
		return nil
	}
	if err := json.Unmarshal(v, into); err != nil {
		return fmt.Errorf("the %s parameter must be a string", name)
	}
	if required && *into == "" {
		return fmt.Errorf("the %s parameter is empty", name)
	}
	return nil
}

// objectParam reads a JSON object member, numbers kept exact (null or
// absent: none).
func objectParam(v json.RawMessage, name string, into *map[string]any) error {
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return fmt.Errorf("the %s parameter must be a JSON object", name)
	}
	*into = m
	return nil
}

// shortJSONError is the decoder's reason without any of the body.
func shortJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}

// negotiate picks the response's media type from Accept. Each supported
// type takes the quality of the most specific range that matches it (the
// type itself, then application/*, then */*); the higher wins, and on a tie
// application/graphql-response+json if the client named it, else
// application/json (what legacy clients expect, and the answer to no
// Accept at all).
func negotiate(accept []string) (string, bool) {
	type match struct {
		q           float64
		specificity int // 0 none, 1 */*, 2 application/*, 3 the type
	}
	var gr, js match
	note := func(m *match, q float64, specificity int) {
		if specificity > m.specificity {
			*m = match{q: q, specificity: specificity}
		}
	}
	seen, parts := false, 0
	for _, header := range accept {
		for _, part := range strings.Split(header, ",") {
			if parts++; parts > maxAcceptParts {
				break // a client that lists more is not negotiating
			}
			media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			seen = true
			q := 1.0
			if v, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
			switch media {
			case mediaGraphQLResponse:
				note(&gr, q, 3)
			case mediaJSON:
				note(&js, q, 3)
			case "application/*":
				note(&gr, q, 2)
				note(&js, q, 2)
			case "*/*":
				note(&gr, q, 1)
				note(&js, q, 1)
			}
		}
	}
	switch {
	case !seen:
		return mediaJSON, true
	case gr.q <= 0 && js.q <= 0:
		return "", false
	case gr.q > js.q, gr.q == js.q && gr.specificity == 3:
		return mediaGraphQLResponse, true
	default:
		return mediaJSON, true
	}
}

// maxAcceptParts bounds the media ranges negotiate reads: a header of a
// megabyte of "*/*," must not cost a parse each.
const maxAcceptParts = 32

// writeRequestError answers a request the server could not take, with no
// data entry and extensions.code BAD_REQUEST.
func writeRequestError(w http.ResponseWriter, r *http.Request, media string, status int, msg string) {
	ext := map[string]any{"code": codeBadRequest}
	if id := requestid.From(r.Context()); id != "" {
		ext["requestId"] = id
	}
	writeResponse(w, media, status, map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": ext}}})
}

func writeResponse(w http.ResponseWriter, media string, status int, body any) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
