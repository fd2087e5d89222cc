package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// Team returns one team.
func (s *Store) Team(ctx context.Context, id string) (models.Team, error) {
	if !models.ValidID(id) {
		return models.Team{}, invalid("id", "not a team id")
	}
	teams, err := s.TeamsByIDs(ctx, []string{id})
	if err != nil {
		return models.Team{}, err
	}
	if len(teams) == 0 || teams[0].IsDeleted {
		return models.Team{}, fmt.Errorf("%w: team %s", ErrNotFound, id)
	}
	return teams[0], nil
}

// NewTeam is a validated team creation request.
type NewTeam struct {
	Name         string
	Description  *string
	MemberIDs    []string
	POCID        string
	CreationCode string
}

// joinCodeAlphabet avoids look-alike characters (0/O, 1/I/L), since people
// type these codes.
const joinCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// pick returns n characters of joinCodeAlphabet drawn uniformly with
// crypto/rand.
func pick(n int) string {
	b := make([]byte, n)
	limit := byte(256 - 256%len(joinCodeAlphabet)) // reject bytes that would bias the draw
	buf := make([]byte, 1)
	for i := 0; i < n; {
		_, _ = rand.Read(buf) // crypto/rand.Read does not fail on supported platforms
		if buf[0] >= limit {
			continue
		}
		b[i] = joinCodeAlphabet[int(buf[0])%len(joinCodeAlphabet)]
		i++
	}
	return string(b)
}

// JoinCodeLength is the length of team join codes: 31^10 ≈ 8·10^14 codes.
const JoinCodeLength = 10

// CreateTeam uses up the creation code, then creates the team, its
// memberships (creator, members, POC) and the creator's owner and admin
// roles. Everything the caller sent is validated before the code is used.
// It completes or leaves nothing: if a step after the code fails, what was
// written is deleted and the code released again.
func (s *Store) CreateTeam(ctx context.Context, actor string, in NewTeam) (_ models.Team, err error) {
	code, usable, err := s.guessCreationCode(ctx, actor, in.CreationCode)
	if err != nil {
		return models.Team{}, err
	}
	if !usable {
		return models.Team{}, invalid("creationCode", "invalid or already used team creation code")
	}
	op := s.begin()
	defer s.settle(ctx, op, &err)
	members := uniq(append(append([]string{actor}, in.MemberIDs...), in.POCID))
	op.Plan(ref(mongo.CollTeamCreationCode, code.ID))
	op.PlanNew(mongo.CollTeams, 1)
	op.PlanNew(mongo.CollUserTeamDetails, len(members))
	op.PlanNew(mongo.CollUserRoles, 2)
	op.PlanNew(mongo.CollAuditLogs, 4)
	if err := op.Record(ctx); err != nil {
		return models.Team{}, translate(err)
	}
	now := s.now()
	code, err = s.mongo.ConsumeCreationCode(ctx, code, actor, now)
	if errors.Is(err, mongo.ErrNotFound) {
		return models.Team{}, invalid("creationCode", "invalid or already used team creation code")
	}
	if err != nil {
		return models.Team{}, translate(err)
	}
	op.Wrote(code)
	t, err := s.buildTeam(ctx, op, actor, in, members, now)
	if err != nil {
		// All or nothing: what was built goes, and the code is usable again,
		// so a retry makes one team (FerretDB has no transaction to roll
		// back). Should the undo fail, the request is marked dirty.
		if t.ID != "" {
			s.undo(ctx, op, createdTeam(t.ID))
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		released, rerr := s.mongo.ReleaseCreationCode(uctx, code)
		if rerr != nil {
			MarkDirty(ctx)
			s.log.ErrorContext(ctx, "releasing the creation code of a failed createTeam failed", "code", code.ID, "err", rerr)
			return models.Team{}, err
		}
		op.Wrote(released)
		return models.Team{}, err
	}
	return t, nil
}

// buildTeam writes a new team, its audit entries, memberships and the
// creator's roles; t.ID is set once the team's insert was sent (it may
// have landed even when it failed).
func (s *Store) buildTeam(ctx context.Context, op *mirror.Op, actor string, in NewTeam, members []string, now time.Time) (t models.Team, err error) {
	id, err := op.Take(ctx, mongo.CollTeams)
	if err != nil {
		return t, translate(err)
	}
	t = models.Team{ID: id, Name: in.Name, Description: in.Description, POCID: in.POCID,
		CreatedBy: actor, UpdatedBy: actor, CreatedAt: now, UpdatedAt: &now, Version: 1}
	for attempt := 0; ; attempt++ {
		t.InviteCode = pick(JoinCodeLength)
		err = s.mongo.InsertTeam(ctx, t)
		if !errors.Is(err, mongo.ErrDuplicate) || attempt == 4 {
			break
		}
	}
	if err != nil {
		return t, translate(err)
	}
	op.Wrote(t)
	s.audit(ctx, op, models.AuditLog{Action: "team_created", TeamID: t.ID, PerformedBy: actor})
	s.audit(ctx, op, models.AuditLog{Action: "team_creation_invite_code_consumed", TeamID: t.ID, PerformedBy: actor})
	for _, id := range members {
		if err := s.addMember(ctx, op, actor, t.ID, id, ""); err != nil {
			return t, err
		}
	}
	for _, role := range []models.RoleName{models.RoleOwner, models.RoleAdmin} {
		if err := s.grant(ctx, op, actor, t.ID, actor, role); err != nil {
			return t, err
		}
	}
	return t, nil
}

// uniq drops empty and repeated ids, keeping the first of each.
func uniq(ids []string) []string {
	seen := map[string]bool{"": true}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// addMember inserts a membership; an existing one is left as it is. action,
// when set, is audited with the member as its subject.
func (s *Store) addMember(ctx context.Context, op *mirror.Op, actor, teamID, userID, action string) error {
	id, err := op.Take(ctx, mongo.CollUserTeamDetails)
	if err != nil {
		return translate(err)
	}
	now := s.now()
	m := models.TeamMembership{ID: id, UserID: userID, TeamID: teamID, IsActive: true, CreatedBy: actor,
		UpdatedBy: actor, CreatedAt: now, UpdatedAt: &now, Version: 1}
	err = s.mongo.InsertMembership(ctx, m)
	if errors.Is(err, mongo.ErrDuplicate) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	op.Wrote(m)
	if action != "" {
		s.audit(ctx, op, models.AuditLog{Action: action, TeamID: teamID, PerformedBy: actor, TargetUserID: userID})
	}
	return nil
}

// JoinTeam adds actor to the team whose join code this is. Wrong codes are
// limited per user (see limit).
func (s *Store) JoinTeam(ctx context.Context, actor, code string) (_ models.Team, err error) {
	giveBack, err := s.limit(ctx, "join:"+actor)
	if err != nil {
		return models.Team{}, err
	}
	t, err := s.mongo.TeamByInviteCode(ctx, code)
	if errors.Is(err, mongo.ErrNotFound) {
		return models.Team{}, invalid("inviteCode", "no team has this join code")
	}
	giveBack()
	if err != nil {
		return models.Team{}, translate(err)
	}
	ms, err := s.mongo.MembershipsOfUsers(ctx, []string{actor})
	if err != nil {
		return models.Team{}, translate(err)
	}
	for _, m := range ms {
		if m.TeamID == t.ID {
			return models.Team{}, fmt.Errorf("%w: already a member of this team", ErrConflict)
		}
	}
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.PlanNew(mongo.CollUserTeamDetails, 1)
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return models.Team{}, translate(err)
	}
	if err := s.addMember(ctx, op, actor, t.ID, actor, "member_joined_team"); err != nil {
		return models.Team{}, err
	}
	return t, nil
}

// Rate limits of code guessing: at most JoinAttempts wrong codes per user
// in JoinWindow, for join codes and, separately, for creation codes.
const (
	JoinAttempts = 10
	JoinWindow   = 15 * time.Minute
)

// ErrRateLimited: too many wrong attempts; wait and try again.
var ErrRateLimited = errors.New("too many attempts")

// creationCodeKey is the budget of a user's guesses at team-creation codes:
// verifyTeamCreationInviteCode and createTeam test the same secret, so one
// must not be a free oracle for the other.
func creationCodeKey(actor string) string { return "creation-code:" + actor }

// limit takes one attempt of key's budget before a code is evaluated, so
// that however many requests arrive at once, on however many instances, at
// most JoinAttempts get past it in a window. The caller calls giveBack
// once the code proved right (or could not be looked up): only wrong codes
// spend the budget.
func (s *Store) limit(ctx context.Context, key string) (giveBack func(), err error) {
	now := s.now()
	ok, err := s.mongo.TakeAttempt(ctx, key, JoinAttempts, now.Add(-JoinWindow), now)
	if err != nil {
		return nil, translate(err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: at most %d wrong codes per %d minutes; try again later",
			ErrRateLimited, JoinAttempts, int(JoinWindow/time.Minute))
	}
	return func() {
		// The answer is already decided; a lost give-back only costs the
		// user one attempt, so it is logged, not returned.
		if err := s.mongo.GiveBackAttempt(context.WithoutCancel(ctx), key); err != nil {
			s.log.WarnContext(ctx, "storage: giving back a rate-limit attempt", "key", key, "err", err)
		}
	}, nil
}

// AddMembers adds users to a team; users already in it are left alone.
func (s *Store) AddMembers(ctx context.Context, actor, teamID string, userIDs []string) (err error) {
	existing, err := s.mongo.MembershipsOfTeams(ctx, []string{teamID}, nil)
	if err != nil {
		return translate(err)
	}
	in := map[string]bool{}
	for _, m := range existing {
		in[m.UserID] = true
	}
	var missing []string
	for _, id := range uniq(userIDs) {
		if !in[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	userIDs = missing
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.PlanNew(mongo.CollUserTeamDetails, len(userIDs))
	op.PlanNew(mongo.CollAuditLogs, len(userIDs))
	if err := op.Record(ctx); err != nil {
		return translate(err)
	}
	for _, id := range userIDs {
		if err := s.addMember(ctx, op, actor, teamID, id, "member_added_to_team"); err != nil {
			return err
		}
	}
	return nil
}

// Memberships returns the active memberships of the teams, in join order.
func (s *Store) Memberships(ctx context.Context, teamIDs []string) ([]models.TeamMembership, error) {
	return readFamily(ctx, s, FamilyTeams, "memberships", nil, func(ctx context.Context, r mirrorReads) ([]models.TeamMembership, error) {
		return r.MembershipsOfTeams(ctx, teamIDs, nil)
	}, compareMemberships)
}

func compareMemberships(a, b []models.TeamMembership) []Difference {
	return diffDocs(a, b, func(m models.TeamMembership) string { return m.ID }, false)
}

// RemoveMember takes userID out of the team. The member's unfinished tasks
// in the team go back to the team first, then their team roles end, then
// the membership: a failure midway leaves a member whose work is already
// safe with the team, and repeating the call finishes the job.
func (s *Store) RemoveMember(ctx context.Context, actor string, team models.Team, m models.TeamMembership) (err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	now := s.now()
	asg, err := s.mongo.ActiveAssignmentsInTeams(ctx, []string{team.ID})
	if err != nil {
		return translate(err)
	}
	var mine []models.TaskAssignment
	var taskIDs []string
	for _, a := range asg {
		if a.AssigneeType == models.AssigneeUser && a.AssigneeID == m.UserID {
			mine = append(mine, a)
			taskIDs = append(taskIDs, a.TaskID)
		}
	}
	tasks, err := s.mongo.TasksByIDs(ctx, taskIDs)
	if err != nil {
		return translate(err)
	}
	byID := map[string]models.Task{}
	for _, t := range tasks {
		byID[t.ID] = t
	}
	for _, a := range mine {
		t, ok := byID[a.TaskID]
		if !ok || t.Status == models.StatusDone {
			continue // done work stays credited to the member
		}
		if t.Status == models.StatusInProgress || t.DeferredDetails != nil {
			after := t
			if after.Status == models.StatusInProgress {
				after.Status = models.StatusTodo
			}
			after.DeferredDetails = nil
			if _, err := s.updateTask(ctx, op, actor, t, after, team.ID); err != nil {
				return err
			}
		}
		if _, err := s.assign(ctx, op, actor, t, &a, NewAssignment{AssigneeID: team.ID, Type: models.AssigneeTeam, TeamID: team.ID}); err != nil {
			return err
		}
	}
	roles, err := s.mongo.ActiveRolesOfUsers(ctx, []string{m.UserID})
	if err != nil {
		return translate(err)
	}
	for _, r := range roles {
		if r.Scope == models.ScopeTeam && r.TeamID == team.ID {
			if err := s.endRole(ctx, op, actor, r, now); err != nil {
				return err
			}
		}
	}
	op.Plan(ref(mongo.CollUserTeamDetails, m.ID))
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return translate(err)
	}
	if err := s.mongo.DeleteMembership(ctx, m.ID); err != nil {
		return translate(err)
	}
	op.Deleted(mongo.CollUserTeamDetails, m.ID)
	action := "member_removed_from_team"
	if actor == m.UserID {
		action = "member_left_team"
	}
	s.audit(ctx, op, models.AuditLog{Action: action, TeamID: team.ID, PerformedBy: actor, TargetUserID: m.UserID})
	return nil
}

// UpdateTeam writes after over before and records POC and detail changes.
func (s *Store) UpdateTeam(ctx context.Context, actor string, before, after models.Team) (_ models.Team, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.Plan(ref(mongo.CollTeams, before.ID))
	op.PlanNew(mongo.CollAuditLogs, 3)
	if err := op.Record(ctx); err != nil {
		return models.Team{}, translate(err)
	}
	now := s.now()
	after.UpdatedAt, after.UpdatedBy = &now, actor
	saved, err := s.mongo.UpdateTeam(ctx, before, after)
	if err != nil {
		return models.Team{}, translate(err)
	}
	op.Wrote(saved)
	if before.POCID != after.POCID {
		s.audit(ctx, op, models.AuditLog{Action: "poc_changed", TeamID: saved.ID, PerformedBy: actor, TargetUserID: after.POCID,
			AssigneeFrom: before.POCID, AssigneeTo: after.POCID})
	}
	if before.Name != after.Name || !equalPtr(before.Description, after.Description) {
		s.audit(ctx, op, models.AuditLog{Action: "team_updated", TeamID: saved.ID, PerformedBy: actor})
	}
	if before.InviteCode != after.InviteCode {
		s.audit(ctx, op, models.AuditLog{Action: "invite_code_rotated", TeamID: saved.ID, PerformedBy: actor})
	}
	return saved, nil
}

// RotateInviteCode gives the team a fresh join code.
func (s *Store) RotateInviteCode(ctx context.Context, actor string, t models.Team) (models.Team, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		after := t
		after.InviteCode = pick(JoinCodeLength)
		var saved models.Team
		saved, err = s.UpdateTeam(ctx, actor, t, after)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ErrConflict) || errors.Is(err, ErrStale) {
			break // a taken code is drawn again; a changed team is read again by the caller
		}
	}
	return models.Team{}, err
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// AssignmentsInTeams returns the active assignments whose team context is
// one of the teams.
func (s *Store) AssignmentsInTeams(ctx context.Context, teamIDs []string) ([]models.TaskAssignment, error) {
	return readFamily(ctx, s, FamilyTasks, "assignmentsInTeams", nil, func(ctx context.Context, r mirrorReads) ([]models.TaskAssignment, error) {
		return r.ActiveAssignmentsInTeams(ctx, teamIDs)
	}, compareAssignments)
}

// Members pages a team's members in join order.
func (s *Store) Members(ctx context.Context, teamID string, args PageArgs) (Page[models.TeamMember], func(context.Context) (int, error), error) {
	var page Page[models.TeamMember]
	limit, err := args.limit()
	if err != nil {
		return page, nil, err
	}
	count := func(ctx context.Context) (int, error) {
		n, err := readFamily(ctx, s, FamilyTeams, "countMembers team="+teamID, nil, func(ctx context.Context, r mirrorReads) (int64, error) {
			return r.CountMembers(ctx, teamID)
		}, func(a, b int64) []Difference { return diffValues("(count)", a, b) })
		return int(n), err
	}
	q := mongo.MembersQuery{TeamID: teamID, Limit: limit + 1}
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
		q.AfterCreatedAt, q.AfterID = t, c.ID
	}
	ms, err := readFamily(ctx, s, FamilyTeams, fmt.Sprintf("members team=%s after=%s first=%d", teamID, q.AfterID, limit), nil,
		func(ctx context.Context, r mirrorReads) ([]models.TeamMembership, error) {
			return r.MembershipsOfTeams(ctx, []string{teamID}, &q)
		}, func(a, b []models.TeamMembership) []Difference {
			return diffDocs(a, b, func(m models.TeamMembership) string { return m.ID }, true)
		})
	if err != nil {
		return page, nil, err
	}
	ms, page.HasNextPage = trim(ms, limit)
	page.Edges = make([]Edge[models.TeamMember], len(ms))
	for i, m := range ms {
		page.Edges[i] = Edge[models.TeamMember]{Cursor: encodeCursor(m.ID, strp(m.CreatedAt.Format(time.RFC3339Nano))),
			Node: models.TeamMember{UserID: m.UserID, TeamID: m.TeamID, AddedAt: m.CreatedAt}}
	}
	return page, count, nil
}
