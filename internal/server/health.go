package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// healthTimeout bounds each dependency check so a hung database makes the
// health answer DOWN quickly instead of hanging the prober.
const healthTimeout = 2 * time.Second

type component struct {
	Status string `json:"status"`
}

type healthBody struct {
	Status     string               `json:"status"`
	Components map[string]component `json:"components"`
}

// health reports each store. Only MongoDB, the system of record, decides the
// overall status: with PostgreSQL down writes still work (the mirror catches
// up), so that is reported in its component, not as DOWN.
func health(mongo, mirror Pinger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		var dbErr, pgErr error
		var wg sync.WaitGroup
		wg.Go(func() { dbErr = mongo.Ping(ctx) })
		wg.Go(func() { pgErr = mirror.Ping(ctx) })
		wg.Wait()

		body := healthBody{Status: "UP", Components: map[string]component{
			"db":       {Status: upDown(dbErr)},
			"postgres": {Status: upDown(pgErr)},
		}}
		status := http.StatusOK
		if dbErr != nil {
			body.Status = "DOWN"
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, body)
	}
}

func upDown(err error) string {
	if err != nil {
		return "DOWN"
	}
	return "UP"
}
