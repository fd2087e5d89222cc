package server_test

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// standardIntrospection is graphql-js's getIntrospectionQuery(), what
// GraphiQL sends for the schema: 15 levels deep through its ofType chain.
//
//go:embed testdata/introspection.graphql
var standardIntrospection string

// withTypeDepth rewrites the TypeRef fragment of the standard query to nest
// ofType n times (graphql-js's typeDepth option, 9 by default).
func withTypeDepth(t *testing.T, n int) string {
	t.Helper()
	i := strings.Index(standardIntrospection, "fragment TypeRef on __Type")
	if i < 0 {
		t.Fatal("testdata/introspection.graphql has no TypeRef fragment")
	}
	return standardIntrospection[:i] + "fragment TypeRef on __Type { kind name " +
		strings.Repeat("ofType { kind name ", n) + strings.Repeat("} ", n) + "}\n"
}

// TestStandardIntrospection: GraphiQL's introspection query is answered
// wherever introspection is allowed (anyone in development, admins
// elsewhere), however deep its ofType chain, and refused to others; the
// depth limit on data and the bound on introspection's nested lists hold.
func TestStandardIntrospection(t *testing.T) {
	parallel(t)
	dev := newEnv(t, opts{unmirrored: true})
	staging := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"ENV": "staging", "ADMIN_EMAILS": "root@example.com"}})
	admin := staging.signIn(t, "root@example.com")
	for _, tc := range []struct {
		name     string
		e        *env
		token    string
		query    string
		wantCode string
	}{
		{"development, anonymous", dev, "", standardIntrospection, ""},
		{"development, ofType 20 deep", dev, "", withTypeDepth(t, 20), ""},
		{"staging, admin", staging, admin, standardIntrospection, ""},
		{"staging, member", staging, staging.token, standardIntrospection, "FORBIDDEN"},
		{"staging, anonymous", staging, "", standardIntrospection, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.e.graphqlAs(t, tc.token, tc.query, nil)
			var data struct {
				Schema *struct{ Types []struct{ Name string } } `json:"__schema"`
			}
			if len(g.Data) > 0 {
				if err := json.Unmarshal(g.Data, &data); err != nil {
					t.Fatalf("data: %v: %s", err, g.Data)
				}
			}
			if tc.wantCode != "" {
				if len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != tc.wantCode || data.Schema != nil {
					t.Errorf("got schema %v, errors %+v; want %s and no schema", data.Schema != nil, g.Errors, tc.wantCode)
				}
				return
			}
			if len(g.Errors) != 0 || data.Schema == nil {
				t.Fatalf("got errors %+v, want the schema", g.Errors)
			}
			names := map[string]bool{}
			for _, ty := range data.Schema.Types {
				names[ty.Name] = true
			}
			if !names["Task"] || !names["Query"] || !names["__Schema"] {
				t.Errorf("got %d types without Task, Query or __Schema", len(data.Schema.Types))
			}
		})
	}

	for _, tc := range []struct{ name, query, want string }{
		{"introspection nesting four lists", "{ __schema { types { fields { type { fields { args { name } } } } } } }",
			"introspection nests lists more than 3 deep"},
		{"introspection nesting four lists in a fragment", "{ __type(name: \"Task\") { ...T } } " +
			"fragment T on __Type { fields { type { ofType { fields { type { fields { args { name } } } } } } } }",
			"introspection nests lists more than 3 deep"},
		{"data 13 levels deep", deepData(13), "nested"},
		{"data 13 levels deep beside introspection", "{ __schema { queryType { name } } " + deepData(13)[1:], "nested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := dev.graphql(t, tc.query, nil)
			if len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(g.Errors[0].Message, tc.want) {
				t.Errorf("got %s %+v, want BAD_USER_INPUT naming %q", g.Data, g.Errors, tc.want)
			}
		})
	}
}

// deepData is a valid query of data nested levels deep (an odd number
// from 5 up): tasks › nodes › (assignment › task)… › id.
func deepData(levels int) string {
	pairs := (levels - 3) / 2
	return "{ tasks { nodes { " + strings.Repeat("assignment { task { ", pairs) + "id" + strings.Repeat(" } }", pairs) + " } } }"
}

// TestPlaygroundAssetsMatchTheirSums: every file SHA256SUMS names is served,
// gzipped or not, with the content the sums record and its media type; a
// revalidation with the ETag gets 304; the page loads the bundle from the
// server itself under a CSP that allows nothing else.
func TestPlaygroundAssetsMatchTheirSums(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	f, err := os.Open(filepath.Join("playground", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".ttf": "font/ttf"}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		sum, name, _ := strings.Cut(sc.Text(), "  ")
		n++
		path := "/playground/assets/" + name
		for _, gz := range []bool{true, false} {
			got, status, header := fetchAsset(t, e.url+path, gz, "")
			if status != http.StatusOK || got != sum || header.Get("Content-Type") != types[filepath.Ext(name)] {
				t.Errorf("%s (gzip %v): HTTP %d, %s, sha256 %s; want 200, %s, %s", path, gz, status,
					header.Get("Content-Type"), got, types[filepath.Ext(name)], sum)
			}
			if _, again, _ := fetchAsset(t, e.url+path, gz, header.Get("ETag")); again != http.StatusNotModified {
				t.Errorf("%s with If-None-Match: HTTP %d, want 304", path, again)
			}
		}
	}
	if n < 5 {
		t.Errorf("SHA256SUMS names %d files, want main.js, main.css and Monaco's three workers at least", n)
	}
	if r := e.do(t, http.MethodGet, "/playground/assets/nothing.js", "", ""); r.status != http.StatusNotFound {
		t.Errorf("an asset that is not there: HTTP %d, want 404", r.status)
	}
	r := e.do(t, http.MethodGet, "/playground", "", "")
	csp := r.header.Get("Content-Security-Policy")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `src="playground/assets/main.js"`) ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET /playground: HTTP %d, CSP %q: %s", r.status, csp, r.body)
	}
}

// fetchAsset GETs url, asking for gzip or not, and returns the sha256 of the
// decoded body, the status and the headers.
func fetchAsset(t *testing.T, url string, gz bool, etag string) (sum string, status int, header http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Set explicitly, so the transport does not decode for us.
	req.Header.Set("Accept-Encoding", map[bool]string{true: "gzip, br", false: "identity"}[gz])
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		body = zr
	} else if gz && resp.StatusCode == http.StatusOK {
		t.Errorf("%s: not gzipped for a client that takes gzip", url)
	}
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return hex.EncodeToString(h.Sum(nil)), resp.StatusCode, resp.Header
}
