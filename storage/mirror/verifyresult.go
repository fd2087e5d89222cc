package mirror

import (
	"context"
	"time"
)

// VerifyResult is what a verify run found, per collection and in total.
type VerifyResult struct {
	At          time.Time                   `bson:"at"`
	Missing     int                         `bson:"missing"`
	Extra       int                         `bson:"extra"`
	Different   int                         `bson:"different"`
	Repaired    int                         `bson:"repaired"`
	Collections map[string]CollectionVerify `bson:"collections"`
	// Source is "verify" (todo sync verify) or "background" (the
	// background verifier).
	Source string `bson:"source"`
}

// CollectionVerify is one collection's share of a verify result.
type CollectionVerify struct {
	Documents int `bson:"documents"`
	Rows      int `bson:"rows"`
	Missing   int `bson:"missing"`
	Extra     int `bson:"extra"`
	Different int `bson:"different"`
	Repaired  int `bson:"repaired"`
}

const lastVerifyKey = "verify:last"

// LastVerify returns the last verify result; ok is false when none ran.
func (e *Engine) LastVerify(ctx context.Context) (VerifyResult, bool, error) {
	var r VerifyResult
	ok, err := e.mongo.LoadState(ctx, lastVerifyKey, &r)
	return r, ok, err
}
