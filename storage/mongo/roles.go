package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// ActiveRolesOfUsers returns the active role grants of the given users.
func (s *Store) ActiveRolesOfUsers(ctx context.Context, userIDs []string) ([]models.UserRole, error) {
	filter := bson.D{{Key: "user_id", Value: bson.D{{Key: "$in", Value: refIn(userIDs)}}}, {Key: "is_active", Value: true}}
	cur, err := s.coll(CollUserRoles).Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: roles of users: %w", err)
	}
	var docs []userRoleDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: roles of users: %w", err)
	}
	out := make([]models.UserRole, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// refIn lists the forms a reference may be stored in: new writes store an
// ObjectId, the original service often a hex string. Matching both lets the
// service run on its database before `todo migrate normalize`.
func refIn(ids []string) bson.A {
	out := make(bson.A, 0, 2*len(ids))
	for _, id := range ids {
		if oid, err := bson.ObjectIDFromHex(id); err == nil {
			out = append(out, oid)
		}
		out = append(out, id)
	}
	return out
}

// InsertUserRole stores a role grant.
func (s *Store) InsertUserRole(ctx context.Context, r models.UserRole) error {
	return s.insert(ctx, CollUserRoles, userRoleDocOf(r))
}

// UpdateUserRole writes the changes from before to after.
func (s *Store) UpdateUserRole(ctx context.Context, before, after models.UserRole) (models.UserRole, error) {
	var out userRoleDoc
	b := userRoleDocOf(before)
	changed, err := s.patch(ctx, CollUserRoles, b.ID, b, userRoleDocOf(after), &out)
	if err != nil || !changed {
		return before, err
	}
	return out.model(), nil
}

// RoleCatalogue lists the roles, of one scope when scope is not empty.
func (s *Store) RoleCatalogue(ctx context.Context, scope models.RoleScope) ([]models.Role, error) {
	filter := bson.D{}
	if scope != "" {
		filter = bson.D{{Key: "scope", Value: string(scope)}}
	}
	cur, err := s.coll(CollRoles).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "scope", Value: 1}, {Key: "name", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: roles: %w", err)
	}
	var docs []roleDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: roles: %w", err)
	}
	out := make([]models.Role, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}
