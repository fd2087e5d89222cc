package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/config"
)

// playgroundFiles is GraphiQL and what it needs (React, Monaco's workers,
// fonts), built by `make playground-assets` from the npm packages pinned in
// web/playground, gzipped. SHA256SUMS holds each file's sha256 before
// compression, checked when the files are first loaded.
//
//go:embed playground/*.gz playground/SHA256SUMS
var playgroundFiles embed.FS

// playgroundAssets loads the files once a process (inflating them all to
// check their sums takes some 30 ms; tests build many servers).
var playgroundAssets = sync.OnceValues(loadPlaygroundAssets)

// playgroundAsset is one embedded file: served gzipped as stored, or
// inflated for the rare client that does not take gzip.
type playgroundAsset struct {
	gz   []byte
	etag string
	mime string
}

// playgroundPageHTML loads the bundle by paths relative to /playground, as
// the bundle finds its workers and the API, so a proxy may serve all of it
// under a prefix.
const playgroundPageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>todo GraphQL playground</title>
<link rel="stylesheet" href="playground/assets/main.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script type="module" src="playground/assets/main.js"></script>
</body>
</html>
`

// playgroundCSP lets the page run its own scripts and workers and talk to
// its own origin only. Monaco and GraphiQL set style attributes and insert
// <style> elements, hence 'unsafe-inline' for styles (not for scripts);
// GraphiQL's fonts are data: URLs in its stylesheet.
const playgroundCSP = "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// graphiql serves the playground, GraphiQL's page and its assets, from the
// binary: to anyone in development, to signed-in admins elsewhere (others
// get 404, as if there were none, for the assets too).
type graphiql struct {
	dev    bool
	store  auth.AdminChecker
	assets map[string]playgroundAsset
	page   []byte
}

func newGraphiQL(d Deps) *graphiql {
	assets, err := playgroundAssets()
	if err != nil {
		panic(err) // the assets are compiled in: every test that builds a server catches this
	}
	return &graphiql{dev: d.Config.Env == config.EnvDevelopment, store: d.Store, assets: assets,
		page: []byte(playgroundPageHTML)}
}

// playgroundTypes are the media types of what the build writes; the
// system's mime tables differ from machine to machine.
var playgroundTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".ttf": "font/ttf",
}

// loadPlaygroundAssets reads SHA256SUMS and the files it names, and checks
// that each inflates to the content its sum records.
func loadPlaygroundAssets() (map[string]playgroundAsset, error) {
	sums, err := playgroundFiles.ReadFile("playground/SHA256SUMS")
	if err != nil {
		return nil, fmt.Errorf("server: playground assets: %w", err)
	}
	assets := map[string]playgroundAsset{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("server: playground assets: bad SHA256SUMS line %q", line)
		}
		gz, err := playgroundFiles.ReadFile("playground/" + name + ".gz")
		if err != nil {
			return nil, fmt.Errorf("server: playground assets: %w", err)
		}
		got, err := inflatedSum(gz)
		if err != nil {
			return nil, fmt.Errorf("server: playground assets: %s.gz: %w", name, err)
		}
		if got != sum {
			return nil, fmt.Errorf("server: playground assets: %s.gz inflates to sha256 %s, SHA256SUMS says %s", name, got, sum)
		}
		typ, ok := playgroundTypes[path.Ext(name)]
		if !ok {
			return nil, fmt.Errorf("server: playground assets: no media type for %s", name)
		}
		assets[name] = playgroundAsset{gz: gz, etag: `"` + sum[:32] + `"`, mime: typ}
	}
	if _, ok := assets["main.js"]; !ok {
		return nil, fmt.Errorf("server: playground assets: SHA256SUMS names no main.js")
	}
	return assets, nil
}

func inflatedSum(gz []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil { //nolint:gosec // G110: our own embedded files
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// allowed reports whether the request may see the playground.
func (p *graphiql) allowed(r *http.Request) bool {
	if p.dev {
		return true
	}
	v := auth.ViewerFrom(r.Context())
	if v == nil {
		return false
	}
	admin, err := v.IsAdmin(r.Context(), p.store)
	return err == nil && admin
}

// Page is GET /playground.
func (p *graphiql) Page(w http.ResponseWriter, r *http.Request) {
	if !p.allowed(r) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", playgroundCSP)
	// Not no-referrer: with it, browsers may send "Origin: null" on the
	// page's POSTs, which the CSRF check refuses.
	h.Set("Referrer-Policy", "same-origin")
	_, _ = w.Write(p.page) // the client may be gone; nothing to do then
}

// Asset is GET /playground/assets/{name}. The ETag is the file's sha256,
// so a browser revalidates (no-cache) and gets 304 until the assets change.
func (p *graphiql) Asset(w http.ResponseWriter, r *http.Request) {
	if !p.allowed(r) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	a, ok := p.assets[chi.URLParam(r, "name")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", a.etag)
	if strings.Contains(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.mime)
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", fmt.Sprint(len(a.gz)))
		_, _ = w.Write(a.gz)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.gz))
	if err != nil {
		panic(err) // every file was inflated when loaded
	}
	_, _ = io.Copy(w, zr) //nolint:gosec // G110: our own embedded file, checked when loaded
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a weight
// above zero.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, weighted := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !weighted {
			return true
		}
		w, err := strconv.ParseFloat(q, 64)
		return err == nil && w > 0
	}
	return false
}
