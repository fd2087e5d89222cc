package mongo

import (
	"go.mongodb.org/mongo-driver/v2/bson"
)

func oid(id string) bson.ObjectID {
	o, err := bson.ObjectIDFromHex(id)
	if err != nil {
		// Callers create ids with NewID or read them from the store; an
		// invalid one is a programming error, caught by the write failing
		// on a zero id rather than by a panic.
		return bson.ObjectID{}
	}
	return o
}

// NewID returns a fresh ObjectId in hex, for documents about to be inserted.
func NewID() string { return bson.NewObjectID().Hex() }
