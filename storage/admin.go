package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// CreationCodeLength is the length of team-creation codes.
const CreationCodeLength = 12

// GenerateCreationCode mints a one-time team-creation code.
func (s *Store) GenerateCreationCode(ctx context.Context, actor, description string) (_ models.TeamCreationInviteCode, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.PlanNew(mongo.CollTeamCreationCode, 1)
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return models.TeamCreationInviteCode{}, translate(err)
	}
	id, err := op.Take(ctx, mongo.CollTeamCreationCode)
	if err != nil {
		return models.TeamCreationInviteCode{}, translate(err)
	}
	c := models.TeamCreationInviteCode{ID: id, Description: description, CreatedBy: actor, CreatedAt: s.now(), Version: 1}
	for attempt := 0; attempt < 5; attempt++ {
		c.Code = pick(CreationCodeLength)
		if err = s.mongo.InsertCreationCode(ctx, c); !errors.Is(err, mongo.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return models.TeamCreationInviteCode{}, translate(err)
	}
	op.Wrote(c)
	s.audit(ctx, op, models.AuditLog{Action: "team_creation_invite_code_generated", PerformedBy: actor})
	return c, nil
}

// VerifyCreationCode tells whether a code is valid and unused. It is a
// guessing oracle, so wrong codes spend the same budget as wrong codes in
// CreateTeam.
func (s *Store) VerifyCreationCode(ctx context.Context, actor, code string) (bool, error) {
	_, ok, err := s.guessCreationCode(ctx, actor, code)
	return ok, err
}

// guessCreationCode looks a team-creation code up as the guess it may be:
// a wrong or used one spends one of actor's attempts (limit), a usable one
// none; past the limit it is ErrRateLimited, unevaluated.
func (s *Store) guessCreationCode(ctx context.Context, actor, code string) (_ models.TeamCreationInviteCode, usable bool, err error) {
	giveBack, err := s.limit(ctx, creationCodeKey(actor))
	if err != nil {
		return models.TeamCreationInviteCode{}, false, err
	}
	c, err := s.mongo.CreationCode(ctx, code)
	if errors.Is(err, mongo.ErrNotFound) || (err == nil && c.IsUsed) {
		return c, false, nil
	}
	giveBack()
	if err != nil {
		return c, false, translate(err)
	}
	return c, true, nil
}

// CreateLabel adds a label; a taken name is a CONFLICT.
func (s *Store) CreateLabel(ctx context.Context, actor, name, color string) (_ models.Label, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.PlanNew(mongo.CollLabels, 1)
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return models.Label{}, translate(err)
	}
	id, err := op.Take(ctx, mongo.CollLabels)
	if err != nil {
		return models.Label{}, translate(err)
	}
	now := s.now()
	l := models.Label{ID: id, Name: name, Color: color, CreatedAt: now, UpdatedAt: &now, CreatedBy: actor,
		UpdatedBy: actor, Version: 1}
	if err := s.mongo.InsertLabel(ctx, l); err != nil {
		return models.Label{}, translate(err)
	}
	op.Wrote(l)
	s.audit(ctx, op, models.AuditLog{Action: "label_created", PerformedBy: actor, AssigneeTo: l.ID})
	return l, nil
}

// UpdateLabel writes after over before.
func (s *Store) UpdateLabel(ctx context.Context, actor string, before, after models.Label) (_ models.Label, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.Plan(ref(mongo.CollLabels, before.ID))
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return models.Label{}, translate(err)
	}
	now := s.now()
	after.UpdatedAt, after.UpdatedBy = &now, actor
	saved, err := s.mongo.UpdateLabel(ctx, before, after)
	if err != nil {
		return models.Label{}, translate(err)
	}
	op.Wrote(saved)
	action := "label_updated"
	if after.IsDeleted && !before.IsDeleted {
		action = "label_deleted"
	}
	s.audit(ctx, op, models.AuditLog{Action: action, PerformedBy: actor, AssigneeTo: saved.ID})
	return saved, nil
}

// LabelsByIDs returns the labels with these ids, deleted ones included.
func (s *Store) LabelsByIDs(ctx context.Context, ids []string) ([]models.Label, error) {
	return readFamily(ctx, s, FamilyLabels, "labelsByIds", ids, func(ctx context.Context, r mirrorReads) ([]models.Label, error) {
		return r.LabelsByIDs(ctx, ids)
	}, func(a, b []models.Label) []Difference {
		return diffDocs(a, b, func(l models.Label) string { return l.ID }, false)
	})
}

// AuditLogs lists audit entries, newest first.
func (s *Store) AuditLogs(ctx context.Context, f AuditFilter, args PageArgs) (Page[models.AuditLog], func(context.Context) (int, error), error) {
	var page Page[models.AuditLog]
	limit, err := args.limit()
	if err != nil {
		return page, nil, err
	}
	count := func(ctx context.Context) (int, error) {
		n, err := readFamily(ctx, s, FamilyAudit, fmt.Sprintf("countAuditLogs %+v", f.query()), nil,
			func(ctx context.Context, r mirrorReads) (int64, error) { return r.CountAuditLogs(ctx, f.query()) },
			func(a, b int64) []Difference { return diffValues("(count)", a, b) })
		return int(n), err
	}
	q := f.query()
	q.Limit = limit + 1
	if args.After != nil {
		c, err := decodeCursor(*args.After, 1)
		if err != nil {
			return page, nil, err
		}
		k, err := c.key(0)
		if err != nil {
			return page, nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, k)
		if err != nil {
			return page, nil, invalid("after", "not a cursor of this list")
		}
		q.AfterTime, q.AfterID = t, c.ID
	}
	logs, err := readFamily(ctx, s, FamilyAudit, fmt.Sprintf("auditLogs %+v", q), nil,
		func(ctx context.Context, r mirrorReads) ([]models.AuditLog, error) { return r.ListAuditLogs(ctx, q) },
		func(a, b []models.AuditLog) []Difference {
			return diffDocs(a, b, func(l models.AuditLog) string { return l.ID }, true)
		})
	if err != nil {
		return page, nil, err
	}
	logs, page.HasNextPage = trim(logs, limit)
	page.Edges = make([]Edge[models.AuditLog], len(logs))
	for i, l := range logs {
		page.Edges[i] = Edge[models.AuditLog]{Cursor: encodeCursor(l.ID, strp(l.Timestamp.Format(time.RFC3339Nano))), Node: l}
	}
	return page, count, nil
}

// UserSearch searches users; Teammates are listed first.
type UserSearch struct {
	Search    string
	Teammates []string
}

// SearchUsers lists users matching the search, teammates first, each group
// in name order. The cursor names the group it stopped in.
func (s *Store) SearchUsers(ctx context.Context, us UserSearch, args PageArgs) (Page[models.User], func(context.Context) (int, error), error) {
	var page Page[models.User]
	if len([]rune(strings.TrimSpace(us.Search))) < 3 {
		return page, nil, invalid("search", "at least 3 characters")
	}
	us.Search = strings.TrimSpace(us.Search)
	limit, err := args.limit()
	if err != nil {
		return page, nil, err
	}
	groups := []mongo.UserQuery{
		{Search: us.Search, In: append([]string{}, us.Teammates...)},
		{Search: us.Search, NotIn: us.Teammates},
	}
	count := func(ctx context.Context) (int, error) {
		return readFamily(ctx, s, FamilyUsers, "countUsers search="+us.Search, nil, func(ctx context.Context, r mirrorReads) (int, error) {
			total := 0
			for _, g := range groups {
				n, err := r.CountUsers(ctx, g)
				if err != nil {
					return 0, err
				}
				total += int(n)
			}
			return total, nil
		}, func(a, b int) []Difference { return diffValues("(count)", a, b) })
	}
	start := 0
	if args.After != nil {
		c, err := decodeCursor(*args.After, 2)
		if err != nil {
			return page, nil, err
		}
		group, gerr := c.key(0)
		name, nerr := c.key(1)
		if gerr != nil || nerr != nil || (group != "0" && group != "1") {
			return page, nil, invalid("after", "not a cursor of this list")
		}
		if group == "1" {
			start = 1
		}
		groups[start].AfterName, groups[start].AfterID = name, c.ID
	}
	page, err = readFamily(ctx, s, FamilyUsers, fmt.Sprintf("searchUsers search=%s teammates=%v", us.Search, us.Teammates), nil,
		func(ctx context.Context, r mirrorReads) (Page[models.User], error) {
			var page Page[models.User]
			for gi := start; gi < len(groups) && len(page.Edges) <= limit && limit > 0; gi++ {
				g := groups[gi]
				g.Limit = limit + 1 - len(page.Edges)
				users, err := r.SearchUsers(ctx, g)
				if err != nil {
					return page, err
				}
				for _, u := range users {
					page.Edges = append(page.Edges, Edge[models.User]{Cursor: encodeCursor(u.ID, strp(fmt.Sprint(gi)), strp(u.Name)), Node: u})
				}
			}
			page.Edges, page.HasNextPage = trim(page.Edges, limit)
			return page, nil
		}, comparePage(func(u models.User) string { return u.ID }))
	return page, count, err
}
