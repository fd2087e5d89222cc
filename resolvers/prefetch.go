package resolvers

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
)

// selection is the tree of fields a client selected under a field.
type selection map[string]selection

// selectedTaskFields returns what the client selected on the tasks of a
// connection field (under nodes and edges.node), merged.
func selectedTaskFields(ctx context.Context) selection {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return nil
	}
	oc := graphql.GetOperationContext(ctx)
	conn := collect(oc, fc.Field.Selections)
	out := selection{}
	merge(out, conn["nodes"])
	merge(out, conn["edges"]["node"])
	return out
}

func collect(oc *graphql.OperationContext, set ast.SelectionSet) selection {
	out := selection{}
	for _, f := range graphql.CollectFields(oc, set, nil) {
		sub := collect(oc, f.Selections)
		if prev, ok := out[f.Name]; ok {
			merge(prev, sub)
		} else {
			out[f.Name] = sub
		}
	}
	return out
}

func merge(into, from selection) {
	for k, v := range from {
		if prev, ok := into[k]; ok {
			merge(prev, v)
		} else {
			into[k] = v
		}
	}
}

// prefetch loads, for a page of tasks, everything the selected fields will
// need, one query per kind, and primes the request's loaders with it. The
// queries run here, so each kind costs exactly one round trip however the
// field resolvers are scheduled (a loader's batch window otherwise depends
// on how fast a busy machine runs a hundred resolver goroutines). Nothing
// unselected is loaded; a failure only means the resolvers load it
// themselves.
func (r *Resolver) prefetch(ctx context.Context, tasks []models.Task, known map[string][]models.TaskAssignment) {
	sel := selectedTaskFields(ctx)
	if len(sel) == 0 || len(tasks) == 0 {
		return
	}
	l := loaders.For(ctx)
	taskIDs := make([]string, len(tasks))
	for i, t := range tasks {
		taskIDs[i] = t.ID
	}
	asel, wantAssignment := sel["assignment"]
	if wantAssignment {
		var missing []string
		for _, id := range taskIDs {
			if _, ok := known[id]; !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			found, err := r.Store.ActiveAssignments(ctx, missing)
			if err != nil {
				return
			}
			if known == nil {
				known = map[string][]models.TaskAssignment{}
			}
			for _, a := range found {
				known[a.TaskID] = append(known[a.TaskID], a)
			}
			for _, id := range missing {
				l.AssignmentByTask.Prime(ctx, id, known[id])
			}
		}
	}
	var labelIDs, userIDs, teamIDs []string
	for _, t := range tasks {
		if _, ok := sel["labels"]; ok {
			labelIDs = append(labelIDs, t.LabelIDs...)
		}
		if _, ok := sel["createdBy"]; ok && t.CreatedBy != "" {
			userIDs = append(userIDs, t.CreatedBy)
		}
		if _, ok := sel["updatedBy"]; ok && t.UpdatedBy != "" {
			userIDs = append(userIDs, t.UpdatedBy)
		}
		if d, ok := sel["deferredDetails"]; ok && t.DeferredDetails != nil {
			if _, ok := d["deferredBy"]; ok && t.DeferredDetails.DeferredBy != "" {
				userIDs = append(userIDs, t.DeferredDetails.DeferredBy)
			}
		}
		for _, as := range known[t.ID] {
			if _, ok := asel["assignee"]; ok {
				if as.AssigneeType == models.AssigneeTeam {
					teamIDs = append(teamIDs, as.AssigneeID)
				} else {
					userIDs = append(userIDs, as.AssigneeID)
				}
			}
			if _, ok := asel["team"]; ok && as.TeamID != "" {
				teamIDs = append(teamIDs, as.TeamID)
			}
			if _, ok := asel["assignedBy"]; ok && as.CreatedBy != "" {
				userIDs = append(userIDs, as.CreatedBy)
			}
		}
	}
	// A page at the root loads its related kinds at once. Below the root
	// (a team's tasks, one page per team) the page runs in one of the
	// request's few fan-out slots: its loads go one at a time there, so a
	// slot stands for one query under way, not four.
	var wg group
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object != "Query" && fc.Object != "Mutation" {
		wg.sequential = true
	}
	if ids := uniqueIDs(labelIDs); len(ids) > 0 {
		wg.Go(func() {
			if ls, err := r.Store.LabelsByIDs(ctx, ids); err == nil {
				for _, x := range ls {
					l.Labels.Prime(ctx, x.ID, x)
				}
			}
		})
	}
	if ids := uniqueIDs(userIDs); len(ids) > 0 {
		wg.Go(func() {
			if us, err := r.Store.UsersByIDs(ctx, ids); err == nil {
				for _, x := range us {
					l.Users.Prime(ctx, x.ID, x)
				}
			}
		})
	}
	if ids := uniqueIDs(teamIDs); len(ids) > 0 {
		wg.Go(func() {
			if ts, err := r.Store.TeamsByIDs(ctx, ids); err == nil {
				for _, x := range ts {
					l.Teams.Prime(ctx, x.ID, x)
				}
			}
		})
	}
	if v := auth.ViewerFrom(ctx); v != nil {
		if _, ok := sel["inWatchlist"]; ok {
			wg.Go(func() {
				rows, err := r.Store.WatchEntries(ctx, v.UserID, taskIDs)
				if err != nil {
					return
				}
				byTask := map[string][]models.WatchlistEntry{}
				for _, w := range rows {
					byTask[w.TaskID] = append(byTask[w.TaskID], w)
				}
				for _, id := range taskIDs {
					l.WatchByTask.Prime(ctx, id, byTask[id])
				}
			})
		}
	}
	wg.Wait()
}

// uniqueIDs drops repeats and empty ids.
func uniqueIDs(ids []string) []string {
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

// group runs functions concurrently, or one after the other when
// sequential, and waits for them.
type group struct {
	sequential bool
	wg         sync.WaitGroup
}

func (g *group) Go(f func()) {
	if g.sequential {
		f()
		return
	}
	g.wg.Go(f)
}

func (g *group) Wait() { g.wg.Wait() }
