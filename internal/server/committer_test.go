package server_test

import (
	"context"
	"testing"

	"github.com/todo-backend/todo/storage/mirror"
)

// startCommitter runs e's committer, as serve does, until the test ends:
// the tests' writes are settled the way the service settles them.
func startCommitter(t *testing.T, e *mirror.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.RunCommitter(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
