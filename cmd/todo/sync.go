package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// errDifferences makes `todo sync verify` exit 1 without a stack of words.
var errDifferences = errors.New("the mirror differs from MongoDB")

// errUnavailable: a store did not answer in time.
var errUnavailable = errors.New("unavailable")

// syncCmd runs `todo sync status|retry|backfill|verify`.
func syncCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out, errOut io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: sync takes one of status, retry, backfill, verify", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("todo sync "+sub, flag.ContinueOnError)
	fs.SetOutput(errOut)
	coll := fs.String("collection", "", "only this MongoDB collection (tasks, teams, …)")
	id := fs.String("id", "", "only this document (retry)")
	repair := fs.Bool("repair", false, "rewrite what differs and delete extra rows (verify)")
	chunk := fs.Int("chunk", 500, "documents per batch (backfill, verify)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	switch sub {
	case "status", "retry", "backfill", "verify":
	default:
		return fmt.Errorf("%w: unknown sync command %q", errUsage, sub)
	}
	colls := mirror.Collections
	if *coll != "" {
		if mirror.Table(*coll) == "" {
			return fmt.Errorf("%w: not a mirrored collection: %q (one of %s)", errUsage, *coll, strings.Join(mirror.Collections, ", "))
		}
		colls = []string{*coll}
	}
	// status reads; it neither migrates nor waits for a store that does
	// not answer (each is asked within mirror.AdminBound).
	st, engine, err := openEngine(ctx, cfg, log, sub != "status")
	if err != nil {
		return err
	}
	defer st.close(context.Background())
	switch sub {
	case "status":
		return syncStatus(ctx, engine, out)
	case "retry":
		return syncRetry(ctx, engine, *coll, *id, out)
	case "backfill":
		p := newProgress(errOut, "backfill")
		res, err := engine.Backfill(ctx, colls, *chunk, p.update)
		p.done()
		for _, c := range colls {
			if n, ok := res.Scanned[c]; ok {
				fmt.Fprintf(out, "%-28s %7d scanned %7d written\n", c, n, res.Written[c])
			}
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("backfill interrupted; run it again to resume from the checkpoint")
		}
		return err
	case "verify":
		p := newProgress(errOut, "verify")
		res, err := engine.Verify(ctx, colls, *repair, *chunk, p.update, func(d mirror.Difference) {
			p.clear()
			fmt.Fprintf(out, "%s %s %s %s\n", d.Kind, d.Collection, d.ID, strings.Join(d.Details, "; "))
		})
		p.done()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "collection\tdocuments\trows\tmissing\textra\tdifferent")
		for _, c := range colls {
			v := res.Collections[c]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", c, v.Documents, v.Rows, v.Missing, v.Extra, v.Different)
		}
		_ = tw.Flush()
		diffs := res.Missing + res.Extra + res.Different
		if *repair {
			fmt.Fprintf(out, "repaired %d\n", res.Repaired)
			return nil
		}
		if diffs > 0 {
			return fmt.Errorf("%w: %d missing, %d extra, %d different (run with --repair)", errDifferences, res.Missing, res.Extra, res.Different)
		}
		fmt.Fprintln(out, "the mirror holds exactly what MongoDB holds")
		return nil
	default:
		return fmt.Errorf("%w: unknown sync command %q", errUsage, sub)
	}
}

// openEngine opens both stores, applies the mirror's migrations when
// migrate is set, and builds an engine for a command (no worker runs).
func openEngine(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*stores, *mirror.Engine, error) {
	st, err := openStores(cfg, log, metrics.New(), false)
	if err != nil {
		return nil, nil, err
	}
	if migrate {
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := st.mongo.Ping(mctx); err != nil {
			st.close(context.Background())
			return nil, nil, err
		}
		if _, err := st.mirror.Migrate(mctx); err != nil {
			st.close(context.Background())
			return nil, nil, err
		}
	}
	e := mirror.NewEngine(st.mongo, mirror.New(st.mirror), mirror.EngineOptions{Enabled: true,
		Attempts: cfg.DualWriteRetryAttempts, Delay: cfg.DualWriteRetryDelay, Log: log})
	e.SetReady()
	return st, e, nil
}

// syncStatus prints the mirror's state. Each store is asked within
// mirror.AdminBound, both at once: during a partition the command answers
// with what it could read and names the store that did not answer (and
// fails, so scripts notice).
func syncStatus(ctx context.Context, e *mirror.Engine, out io.Writer) error {
	o := e.Overview(ctx)
	if o.MongoErr != nil {
		return fmt.Errorf("mongodb unavailable: %w", o.MongoErr)
	}
	if o.PGErr != nil {
		fmt.Fprintf(out, "postgres: unavailable within %s (%v); rows and last sync unknown\n", mirror.AdminBound, o.PGErr)
	}
	c, stats := o.Counts, o.Tables
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "collection\trows\tpending\tfailed\tlast sync")
	for _, coll := range mirror.Collections {
		last := "-"
		if t := stats[coll].LastSyncAt; t != nil {
			last = t.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", coll, stats[coll].Rows, c.Pending[coll], c.Failed[coll], last)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "pending %d, failed %d, oldest pending %s\n", c.TotalPending(), c.TotalFailed(), c.OldestPending.Round(time.Second))
	if v := o.LastVerify; v != nil {
		fmt.Fprintf(out, "last verify %s: %d missing, %d extra, %d different\n", v.At.Format(time.RFC3339), v.Missing, v.Extra, v.Different)
	}
	if o.PGErr != nil {
		return fmt.Errorf("%w: postgres did not answer", errUnavailable)
	}
	return nil
}

// syncRetry retries failed writes now, then runs the worker until nothing
// is due, so the command's output says how it went.
func syncRetry(ctx context.Context, e *mirror.Engine, coll, id string, out io.Writer) error {
	var n int
	var err error
	if id != "" {
		if coll == "" {
			return fmt.Errorf("%w: --id needs --collection", errUsage)
		}
		err, n = e.Retry(ctx, coll, id), 1
	} else {
		n, err = e.RetryAllFailed(ctx, coll)
	}
	if err != nil {
		return err
	}
	for {
		claimed, err := e.RunOnce(ctx)
		if err != nil {
			return err
		}
		if claimed == 0 {
			break
		}
	}
	c, err := e.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "retried %d; now pending %d, failed %d\n", n, c.TotalPending(), c.TotalFailed())
	if c.TotalFailed() > 0 {
		return fmt.Errorf("%d mirror writes still fail; see `todo sync status`", c.TotalFailed())
	}
	return nil
}

// normalize is `todo migrate normalize`.
func normalize(ctx context.Context, cfg config.Config, log *slog.Logger, out, errOut io.Writer) error {
	st, err := openStores(cfg, log, metrics.New(), true)
	if err != nil {
		return err
	}
	defer st.close(context.Background())
	// Normalizing rewrites documents: on FerretDB it must be the only
	// writer, like todo serve (its lease ends with ctx). A lease lost
	// midway (another process took it) stops the rewriting. Asking what
	// the server is tells whether it answers, too.
	ctx, stop := context.WithCancelCause(ctx)
	lease, err := claimWriter(ctx, ctx, st.mongo, cfg.WriterLeaseTTL, log, stop)
	if errors.Is(err, mongo.ErrLeaseHeld) {
		stop(err)
		return refuseSecondWriter(err)
	}
	if err != nil {
		stop(err)
		return err
	}
	defer func() { stop(nil); released(lease) }()
	colls := append([]string(nil), mongo.MirroredCollections...)
	sort.Strings(colls)
	failed, unmirrorable := 0, 0
	for _, coll := range colls {
		p := newProgress(errOut, "normalize")
		res, err := st.mongo.Normalize(ctx, coll, func(done, total int) { p.update(coll, done, total) })
		p.done()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-28s %7d scanned %7d normalized %d failed\n", coll, res.Scanned, res.Changed, len(res.Failed))
		for _, f := range res.Failed {
			fmt.Fprintln(out, "  failed:", f)
		}
		for _, u := range res.Unmirrorable {
			fmt.Fprintf(out, "  unmirrorable: %s %s: %s\n", u.Coll, u.ID, strings.Join(u.Fields, ", "))
		}
		if more := res.UnmirrorableCount - len(res.Unmirrorable); more > 0 {
			fmt.Fprintf(out, "  unmirrorable: %d more in %s\n", more, coll)
		}
		failed += len(res.Failed)
		unmirrorable += res.UnmirrorableCount
	}
	// Reported, not rewritten: the text is the user's. Normalize still
	// succeeds, so a migration goes on to backfill, which mirrors
	// everything it can and parks what PostgreSQL refuses.
	if unmirrorable > 0 {
		fmt.Fprintf(out, "%d documents hold control characters the API refuses in the fields listed above; normalize\n"+
			"leaves them as they are, as the text is the user's. PostgreSQL cannot store a NUL at all: the mirror marks\n"+
			"such a document FAILED (permanent, with the reason) and keeps mirroring the rest. Fix the fields through the\n"+
			"API, or by hand with the version bumped (db.<collection>.updateOne({_id: ...}, {$set: {<field>: ...},\n"+
			"$inc: {version: 1}})), then run `todo sync retry --collection <collection> --id <id>`.\n", unmirrorable)
	}
	if failed > 0 {
		return fmt.Errorf("%d documents could not be normalized (listed above)", failed)
	}
	return nil
}

// progress draws a bar on a terminal and writes plain lines otherwise, at
// most one a second.
type progress struct {
	w     io.Writer
	what  string
	tty   bool
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(coll string, done, total int) {
	if !p.tty && time.Since(p.last) < time.Second && done < total {
		return
	}
	p.last = time.Now()
	pct := 100
	if total > 0 {
		pct = min(100, done*100/total)
	}
	if p.tty {
		bar := strings.Repeat("#", pct/4) + strings.Repeat(" ", 25-pct/4)
		fmt.Fprintf(p.w, "\r%s [%s] %3d%% %s %d/%d ", p.what, bar, pct, coll, done, total)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, "%s: %s %d/%d (%d%%)\n", p.what, coll, done, total, pct)
}

func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
