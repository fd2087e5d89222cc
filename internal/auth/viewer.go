package auth

import (
	"context"
	"sync"
)

// Viewer is who makes a request: the user id from a verified access token.
// It is read from the context by resolvers and loaders.
type Viewer struct {
	UserID string
	// ViaCookie tells a cookie-authenticated request from a Bearer one: only
	// the former needs CSRF defences.
	ViaCookie bool

	adminOnce sync.Once
	admin     bool
	adminErr  error
}

type viewerKey struct{}

// WithViewer returns ctx carrying v.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the request's viewer, or nil for an anonymous request.
func ViewerFrom(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// AdminChecker answers whether a user holds the GLOBAL admin role.
type AdminChecker interface {
	IsGlobalAdmin(ctx context.Context, userID string) (bool, error)
}

// IsAdmin asks store once per request whether the viewer is a GLOBAL admin;
// later calls in the same request reuse the answer.
func (v *Viewer) IsAdmin(ctx context.Context, store AdminChecker) (bool, error) {
	v.adminOnce.Do(func() { v.admin, v.adminErr = store.IsGlobalAdmin(ctx, v.UserID) })
	return v.admin, v.adminErr
}
