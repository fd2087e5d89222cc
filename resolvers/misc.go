package resolvers

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
)

func firstNonEmpty(vals ...string) *string {
	for _, v := range vals {
		if v != "" {
			return &v
		}
	}
	return nil
}

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func checkLabel(in models.LabelInput) (name, color string, err error) {
	name = strings.TrimSpace(in.Name)
	switch {
	case name == "":
		return "", "", badInput("input.name", "must not be blank")
	case utf8.RuneCountInString(name) > 100:
		return "", "", badInput("input.name", "at most 100 characters")
	case !hexColor.MatchString(in.Color):
		return "", "", badInput("input.color", "must be a CSS hex colour such as #22c55e")
	}
	return name, strings.ToLower(in.Color), nil
}

// label loads a label for an admin's change (the directive checked the role).
func (r *Resolver) label(ctx context.Context, id string) (*auth.Viewer, models.Label, error) {
	v, err := viewer(ctx)
	if err != nil {
		return nil, models.Label{}, err
	}
	if !models.ValidID(id) {
		return nil, models.Label{}, badInput("id", "not a valid id")
	}
	l, err := loaders.For(ctx).Labels.Load(ctx, id)()
	return v, l, err
}

// teammates lists the users who share a team with userID.
func (r *Resolver) teammates(ctx context.Context, userID string) ([]string, error) {
	ms, err := loaders.For(ctx).MembershipsByUser.Load(ctx, userID)()
	if err != nil {
		return nil, err
	}
	teamIDs := make([]string, len(ms))
	for i, m := range ms {
		teamIDs[i] = m.TeamID
	}
	all, errs := loaders.For(ctx).MembershipsByTeam.LoadMany(ctx, teamIDs)()
	seen := map[string]bool{userID: true}
	out := []string{}
	for i, members := range all {
		if i < len(errs) && errs[i] != nil {
			return nil, errs[i]
		}
		for _, m := range members {
			if !seen[m.UserID] {
				seen[m.UserID] = true
				out = append(out, m.UserID)
			}
		}
	}
	return out, nil
}
