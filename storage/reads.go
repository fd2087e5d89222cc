package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// Phase 2 of the migration: reads served from PostgreSQL behind a flag per
// read family, proven by shadow reads. MongoDB stays the system of record:
// writes, and every read a mutation makes, go to it; a family's queries go
// to the mirror only when its flag says so and the mirror holds what
// MongoDB holds for them (mirror.Engine.Current), and fall back to MongoDB
// when the mirror fails or is slow. Flags live in MongoDB (read_sources),
// so every instance follows an admin's change within ReadRefresh.

// Read families.
const (
	FamilyTasks     = "tasks"
	FamilyTeams     = "teams"
	FamilyUsers     = "users"
	FamilyLabels    = "labels"
	FamilyWatchlist = "watchlist"
	FamilyAudit     = "audit"
)

// Families lists the read families.
var Families = []string{FamilyTasks, FamilyTeams, FamilyUsers, FamilyLabels, FamilyWatchlist, FamilyAudit}

// Read sources.
const (
	SourceMongoDB  = "mongodb"
	SourcePostgres = "postgres"
)

// mirrorReadable are the families that have a PostgreSQL read path, and
// the collections each one's reads come from: a pending intent in one of
// them sends a list back to MongoDB.
var mirrorReadable = map[string][]string{
	FamilyTasks:     {mongo.CollTasks, mongo.CollTaskDetails, mongo.CollTeams, mongo.CollWatchlist},
	FamilyWatchlist: {mongo.CollWatchlist, mongo.CollTasks},
	FamilyLabels:    {mongo.CollLabels},
	FamilyUsers:     {mongo.CollUsers},
	FamilyTeams:     {mongo.CollTeams, mongo.CollUserTeamDetails},
	FamilyAudit:     {mongo.CollAuditLogs},
}

// ReadableFromPostgres reports whether a family has a PostgreSQL read path.
func ReadableFromPostgres(family string) bool { return mirrorReadable[family] != nil }

// ReadSetting is one family's flag.
type ReadSetting struct {
	Family        string
	Source        string
	ShadowPercent int
}

// ReadFamilyState is a family's flag and what this instance counted since
// it started.
type ReadFamilyState struct {
	ReadSetting
	Matched, Mismatched, Lag, CandidateErrors, Fallbacks int64
	// Served counts the reads the mirror answered, Skipped the sampled
	// shadow reads not run: MaxShadows were running, or the shadow budget
	// was spent.
	Served, Skipped int64
}

// ReadOptions configure read routing; the zero value reads MongoDB only.
type ReadOptions struct {
	// Postgres are the families read from PostgreSQL unless an admin set
	// otherwise (READS_FROM_POSTGRES), ShadowPercent the default share of
	// shadowed reads (READ_SHADOW_PERCENT).
	Postgres      []string
	ShadowPercent int
	// Timeout bounds a read from PostgreSQL before it falls back (default
	// 500 ms).
	Timeout time.Duration
	// ShadowBudget is the share of wall-clock time, in percent, that the
	// shadow reads of an instance may take, summed over those running
	// (READ_SHADOW_BUDGET, default 20), shared evenly by the families: a
	// sampled read beyond its family's share is skipped. NoShadowBudget
	// bounds them by the slots alone (tests that want every sampled read
	// compared).
	ShadowBudget int
	Metrics      *ReadMetrics
}

// MaxShadows is how many shadow reads run at once on an instance; a
// sampled read beyond them is skipped (and counted).
const MaxShadows = 4

// ReadDefaults checks the environment's families: "all" is every family
// with a PostgreSQL read path.
func ReadDefaults(families []string) ([]string, error) {
	var out []string
	for _, f := range families {
		switch {
		case f == "all":
			for _, g := range Families {
				if ReadableFromPostgres(g) {
					out = append(out, g)
				}
			}
		case !slices.Contains(Families, f):
			return nil, fmt.Errorf("%q is not a read family (one of %s, or all)", f, strings.Join(Families, ", "))
		case !ReadableFromPostgres(f):
			return nil, fmt.Errorf("the %s family has no PostgreSQL read path yet", f)
		default:
			out = append(out, f)
		}
	}
	return out, nil
}

type familyCounts struct {
	matched, mismatched, lag, candidateErrors, fallbacks, served, skipped atomic.Int64
}

type reads struct {
	defaults map[string]ReadSetting
	settings atomic.Pointer[map[string]ReadSetting]
	counts   map[string]*familyCounts
	timeout  time.Duration
	metrics  *ReadMetrics
	// shadows are the shadow reads running, for tests to wait on;
	// shadowSlots bounds them.
	shadows     sync.WaitGroup
	shadowSlots chan struct{}
	budgets     map[string]*shadowBudget
}

// DefaultShadowBudget is ReadOptions.ShadowBudget's default, in percent.
const DefaultShadowBudget = 20

// NoShadowBudget as ReadOptions.ShadowBudget leaves shadows unbounded in
// time.
const NoShadowBudget = -1

func newReads(o ReadOptions) *reads {
	r := &reads{defaults: map[string]ReadSetting{}, counts: map[string]*familyCounts{}, timeout: o.Timeout, metrics: o.Metrics,
		shadowSlots: make(chan struct{}, MaxShadows)}
	if r.timeout <= 0 {
		r.timeout = 500 * time.Millisecond
	}
	budget := o.ShadowBudget
	if budget == 0 {
		budget = DefaultShadowBudget
	}
	// Each family gets an even share of the instance's budget; a family
	// with none (NoShadowBudget) is bounded by the slots alone.
	r.budgets = map[string]*shadowBudget{}
	if budget > 0 {
		for _, f := range Families {
			r.budgets[f] = newShadowBudget(float64(budget)/100/float64(len(Families)), time.Now)
		}
	}
	if r.metrics == nil {
		r.metrics = NewReadMetrics(nil)
	}
	for _, f := range Families {
		src := SourceMongoDB
		if slices.Contains(o.Postgres, f) && ReadableFromPostgres(f) {
			src = SourcePostgres
		}
		r.defaults[f] = ReadSetting{Family: f, Source: src, ShadowPercent: min(max(o.ShadowPercent, 0), 100)}
		r.counts[f] = &familyCounts{}
	}
	r.settings.Store(&r.defaults)
	return r
}

func (r *reads) setting(family string) ReadSetting { return (*r.settings.Load())[family] }

// primaryReads marks a context whose reads must come from MongoDB.
type primaryReads struct{}

// WithPrimaryReads makes every read under ctx come from MongoDB, whatever
// the flags say: a mutation reads the system of record it writes.
func WithPrimaryReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, primaryReads{}, true)
}

func onPrimary(ctx context.Context) bool { v, _ := ctx.Value(primaryReads{}).(bool); return v }

// readMemo remembers, for one request, which families the mirror could
// serve: a query asks once per family, not once per read.
type readMemo struct {
	mu sync.Mutex
	// asked: the engine was asked; lag: what it said; families: the
	// answers of families asked about on their own, past an incomplete one.
	asked    bool
	lag      mirror.Lag
	families map[string]bool
}

type readMemoKey struct{}

// WithReadMemo starts a query's memo of the mirror's currency: within one
// read-only request, whether the mirror holds what MongoDB holds for a
// family is asked once (a write the client saw succeed before the request
// began is covered by that one answer; the request writes nothing).
func WithReadMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, readMemoKey{}, &readMemo{})
}

// current is Engine.Current through the request's memo: a collection-level
// answer also answers the reads by id.
func (s *Store) current(ctx context.Context, family string, ids []string) (bool, error) {
	memo, _ := ctx.Value(readMemoKey{}).(*readMemo)
	if memo == nil {
		colls := mirrorReadable[family]
		if ids != nil {
			colls = colls[:1] // reads by id are of the family's own documents
		}
		return s.engine.Current(ctx, colls, ids)
	}
	memo.mu.Lock()
	defer memo.mu.Unlock()
	if !memo.asked {
		// One question at the request's first read from the mirror: which
		// collections it may not hold (one round trip per query).
		lag, err := s.engine.Behind(ctx)
		if err != nil {
			return false, err
		}
		memo.asked, memo.lag = true, lag
	}
	if memo.lag.Everywhere {
		return false, nil
	}
	for _, c := range mirrorReadable[family] {
		if slices.Contains(memo.lag.Colls, c) {
			return false, nil
		}
	}
	if memo.lag.Complete {
		return true, nil
	}
	// More intents than the scan read: this family's collections may have
	// some among the rest. One more question, once per family.
	if ok, seen := memo.families[family]; seen {
		return ok, nil
	}
	ok, err := s.engine.Current(ctx, mirrorReadable[family], nil)
	if err != nil {
		return false, err
	}
	if memo.families == nil {
		memo.families = map[string]bool{}
	}
	memo.families[family] = ok
	return ok, nil
}

// RefreshReadSettings reads the flags admins set; a family without one
// keeps its default.
func (s *Store) RefreshReadSettings(ctx context.Context) error {
	stored, err := s.mongo.ReadSources(ctx)
	if err != nil {
		return translate(err)
	}
	next := make(map[string]ReadSetting, len(s.reads.defaults))
	for f, d := range s.reads.defaults {
		next[f] = d
	}
	for _, rs := range stored {
		if _, ok := next[rs.Family]; !ok || (rs.Source != SourceMongoDB && rs.Source != SourcePostgres) {
			continue // a family or source this version does not know
		}
		if rs.Source == SourcePostgres && !ReadableFromPostgres(rs.Family) {
			rs.Source = SourceMongoDB
		}
		next[rs.Family] = ReadSetting{Family: rs.Family, Source: rs.Source, ShadowPercent: min(max(rs.ShadowPercent, 0), 100)}
	}
	s.reads.settings.Store(&next)
	return nil
}

// ReadRefresh is how often KeepReadSettings re-reads the flags.
const ReadRefresh = 2 * time.Second

// KeepReadSettings refreshes the flags every ReadRefresh until ctx ends.
func (s *Store) KeepReadSettings(ctx context.Context) {
	for {
		if err := s.RefreshReadSettings(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reading the read sources failed; keeping the last ones", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(ReadRefresh):
		}
	}
}

// SetReadSource sets a family's source and, when shadowPercent is not nil,
// its shadow share; the change is audited and takes effect on this
// instance at once, on the others within ReadRefresh.
func (s *Store) SetReadSource(ctx context.Context, actor, family, source string, shadowPercent *int) (err error) {
	if !slices.Contains(Families, family) {
		return invalid("family", "not a read family")
	}
	if source != SourceMongoDB && source != SourcePostgres {
		return invalid("source", "not a read source")
	}
	if source == SourcePostgres && !ReadableFromPostgres(family) {
		return invalid("source", "the %s family has no PostgreSQL read path yet", family)
	}
	cur := s.reads.setting(family)
	shadow := cur.ShadowPercent
	if shadowPercent != nil {
		if *shadowPercent < 0 || *shadowPercent > 100 {
			return invalid("shadowPercent", "from 0 to 100")
		}
		shadow = *shadowPercent
	}
	op := s.begin()
	defer s.settle(ctx, op, &err)
	prev, found, err := s.mongo.SetReadSource(ctx, mongo.ReadSource{Family: family, Source: source,
		ShadowPercent: shadow, UpdatedAt: s.now(), UpdatedBy: actor})
	if err != nil {
		return translate(err)
	}
	before := cur
	if found {
		before = ReadSetting{Family: family, Source: prev.Source, ShadowPercent: prev.ShadowPercent}
	}
	s.audit(ctx, op, models.AuditLog{Action: "read_source_changed", PerformedBy: actor,
		ValueFrom: before.String(), ValueTo: ReadSetting{Family: family, Source: source, ShadowPercent: shadow}.String()})
	return s.RefreshReadSettings(ctx)
}

// String is a setting as the audit log shows it: tasks=postgres shadow=10%.
func (r ReadSetting) String() string {
	return fmt.Sprintf("%s=%s shadow=%d%%", r.Family, r.Source, r.ShadowPercent)
}

// ReadStates returns every family's flag and counts, in Families' order.
func (s *Store) ReadStates() []ReadFamilyState {
	out := make([]ReadFamilyState, len(Families))
	for i, f := range Families {
		c := s.reads.counts[f]
		out[i] = ReadFamilyState{ReadSetting: s.reads.setting(f), Matched: c.matched.Load(),
			Mismatched: c.mismatched.Load(), Lag: c.lag.Load(), CandidateErrors: c.candidateErrors.Load(),
			Fallbacks: c.fallbacks.Load(), Served: c.served.Load(), Skipped: c.skipped.Load()}
	}
	return out
}

// WaitShadows waits for the shadow reads running to finish.
func (s *Store) WaitShadows() { s.reads.shadows.Wait() }

// fallback counts a read its flag sent to PostgreSQL that MongoDB served.
func (r *reads) fallback(family, why string) {
	r.counts[family].fallbacks.Add(1)
	r.metrics.Fallbacks.WithLabelValues(family, why).Inc()
}

// fromMirror reports whether a read of family over colls (ids: only those
// documents) goes to the mirror.
func (s *Store) fromMirror(ctx context.Context, family string, ids []string) bool {
	if s.reads.setting(family).Source != SourcePostgres || onPrimary(ctx) {
		return false
	}
	if s.engine == nil {
		s.reads.fallback(family, "no_mirror")
		return false
	}
	ok, err := s.current(ctx, family, ids)
	if err != nil || !ok {
		s.reads.fallback(family, "behind")
		return false
	}
	return true
}

// mirrorReads are the reads both stores answer alike, for the families
// with a PostgreSQL read path.
type mirrorReads interface {
	TasksByIDs(ctx context.Context, ids []string) ([]models.Task, error)
	ListTasks(ctx context.Context, q mongo.TaskQuery) ([]models.Task, error)
	CountTasks(ctx context.Context, q mongo.TaskQuery) (int64, error)
	SummaryTasks(ctx context.Context, q mongo.TaskQuery) ([]models.Task, error)
	ActiveAssignmentsOfTasks(ctx context.Context, taskIDs []string) ([]models.TaskAssignment, error)
	ActiveAssignmentsTo(ctx context.Context, userIDs, teamIDs []string) ([]models.TaskAssignment, error)
	ActiveAssignmentsInTeams(ctx context.Context, teamIDs []string) ([]models.TaskAssignment, error)
	TeamsWithPOC(ctx context.Context, userIDs []string) ([]models.Team, error)
	ActiveWatchEntries(ctx context.Context, userID string) ([]models.WatchlistEntry, error)
	WatchEntries(ctx context.Context, userID string, taskIDs []string) ([]models.WatchlistEntry, error)
	LabelsByIDs(ctx context.Context, ids []string) ([]models.Label, error)
	ListLabels(ctx context.Context, q mongo.LabelQuery) ([]models.Label, error)
	CountLabels(ctx context.Context, search string) (int64, error)
	UsersByIDs(ctx context.Context, ids []string) ([]models.User, error)
	SearchUsers(ctx context.Context, q mongo.UserQuery) ([]models.User, error)
	CountUsers(ctx context.Context, q mongo.UserQuery) (int64, error)
	TeamsByIDs(ctx context.Context, ids []string) ([]models.Team, error)
	MembershipsOfUsers(ctx context.Context, userIDs []string) ([]models.TeamMembership, error)
	MembershipsOfTeams(ctx context.Context, teamIDs []string, q *mongo.MembersQuery) ([]models.TeamMembership, error)
	CountMembers(ctx context.Context, teamID string) (int64, error)
	ListAuditLogs(ctx context.Context, q mongo.AuditQuery) ([]models.AuditLog, error)
	CountAuditLogs(ctx context.Context, q mongo.AuditQuery) (int64, error)
}

var (
	_ mirrorReads = (*mongo.Store)(nil)
	_ mirrorReads = (*mirror.Mirror)(nil)
)

// readFamily runs a family's read on the store its flag names, falling
// back to MongoDB when the mirror is behind, fails or takes longer than
// the bound; a sampled share is then shadowed on the other store (see
// shadow.go). what names the read for a mismatch's record; ids are the
// documents read by id (nil for a list).
func readFamily[T any](ctx context.Context, s *Store, family, what string, ids []string, read func(context.Context, mirrorReads) (T, error), cmp comparer[T]) (T, error) {
	fromMongo := func(ctx context.Context) (T, error) { return read(ctx, s.mongo) }
	if s.fromMirror(ctx, family, ids) {
		fromMirror := func(ctx context.Context) (T, error) { return read(ctx, s.engine.Mirror()) }
		pctx, cancel := context.WithTimeout(ctx, s.reads.timeout)
		v, err := fromMirror(pctx)
		cancel()
		if err == nil {
			s.reads.counts[family].served.Add(1)
			s.shadow(ctx, shadowRead{family: family, what: what, ids: ids, control: untypedRead(fromMirror),
				candidate: untypedRead(fromMongo), cmp: cmp.untyped()}, v)
			return v, nil
		}
		if ctx.Err() != nil {
			return v, translate(err)
		}
		s.log.WarnContext(ctx, "read from the mirror failed; reading mongodb", "family", family, "err", err)
		s.reads.fallback(family, "error")
	}
	v, err := fromMongo(ctx)
	if err != nil {
		return v, translate(err)
	}
	if s.engine != nil && !onPrimary(ctx) {
		s.shadow(ctx, shadowRead{family: family, what: what, ids: ids, control: untypedRead(fromMongo),
			candidate: untypedRead(func(ctx context.Context) (T, error) { return read(ctx, s.engine.Mirror()) }),
			cmp:       cmp.untyped()}, v)
	}
	return v, nil
}

// ReadMismatch is a kept shadow mismatch.
type ReadMismatch struct {
	ID, Family, Read string
	IDs, Fields      []string
	At               time.Time
}

// ReadMismatches pages the kept mismatches, newest first.
func (s *Store) ReadMismatches(ctx context.Context, args PageArgs) (Page[ReadMismatch], error) {
	var page Page[ReadMismatch]
	limit, err := args.limit()
	if err != nil {
		return page, err
	}
	var before bson.ObjectID
	if args.After != nil {
		c, err := decodeCursor(*args.After, 0)
		if err != nil {
			return page, err
		}
		if before, err = bson.ObjectIDFromHex(c.ID); err != nil {
			return page, invalid("after", "not a cursor of this list")
		}
	}
	rows, err := s.mongo.ReadMismatches(ctx, before, limit+1)
	if err != nil {
		return page, translate(err)
	}
	rows, page.HasNextPage = trim(rows, limit)
	for _, r := range rows {
		page.Edges = append(page.Edges, Edge[ReadMismatch]{Cursor: encodeCursor(r.ID.Hex()), Node: ReadMismatch{
			ID: r.ID.Hex(), Family: r.Family, Read: r.Read, IDs: r.IDs, Fields: r.Fields, At: r.At}})
	}
	return page, nil
}
