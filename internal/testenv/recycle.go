package testenv

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoPreparedDatabase is [MongoDatabase] for a database that does not start empty: prepare, given the
// server's URI and the database's name, makes what every test of the key needs, such as the collections'
// indexes. On FerretDB those are DDL statements run under a lock that stalls every other client of the
// server, so the databases are recycled instead of dropped: when the test ends, the documents of every
// collection are deleted and the database waits for the next test that asks for the key. A database
// goes back to the pool only if its indexes are still those prepare made (it is dropped otherwise), and
// it is handed out again only once it is found empty: it looks to the next test like a database that
// prepare has just run on.
func MongoPreparedDatabase(t testing.TB, key string, prepare func(ctx context.Context, uri, name string) error) string {
	t.Helper()
	uri := MongoURI(t)
	h.mu.Lock()
	p := h.mongoPools[key]
	if p == nil {
		p = &mongoPool{}
		h.mongoPools[key] = p
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	name, err := p.take(ctx, uri, prepare)
	if err != nil {
		t.Fatalf("testenv: preparing a MongoDB database for %q: %v", key, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := p.recycle(ctx, name); err != nil {
			t.Errorf("testenv: recycling MongoDB database %s: %v", name, err)
		}
	})
	return name
}

// mongoPool holds the databases of one key of [MongoPreparedDatabase] that no test is using.
type mongoPool struct {
	mu   sync.Mutex
	free []string
	// indexes is what prepare made: each collection's index names, sorted (collections with none but
	// _id are left out); nil until the first database is prepared.
	indexes map[string][]string
}

// take returns a free database that is still empty, or prepares a new one.
func (p *mongoPool) take(ctx context.Context, uri string, prepare func(ctx context.Context, uri, name string) error) (string, error) {
	for {
		p.mu.Lock()
		if len(p.free) == 0 {
			p.mu.Unlock()
			break
		}
		name := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.mu.Unlock()
		empty, err := mongoEmpty(ctx, name)
		if err == nil && empty {
			return name, nil
		}
		// Written to after its test ended: not fit to hand out.
		if err := dropMongo(ctx, name); err != nil {
			return "", err
		}
	}
	name := uniqueName("t")
	h.track(h.mongoDBs, name, true)
	if err := prepare(ctx, uri, name); err != nil {
		return "", err
	}
	indexes, err := mongoIndexes(ctx, name)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	if p.indexes == nil {
		p.indexes = indexes
	}
	p.mu.Unlock()
	return name, nil
}

// recycle empties database name and puts it back in the pool, or drops it if its indexes are no
// longer what prepare made.
func (p *mongoPool) recycle(ctx context.Context, name string) error {
	indexes, err := mongoIndexes(ctx, name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	same := maps.EqualFunc(indexes, p.indexes, slices.Equal)
	p.mu.Unlock()
	if !same {
		return dropMongo(ctx, name)
	}
	db := h.mongoClient.Database(name)
	colls, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("listing the collections: %w", err)
	}
	for _, c := range colls {
		if _, err := db.Collection(c).DeleteMany(ctx, bson.D{}); err != nil {
			return fmt.Errorf("emptying %s: %w", c, err)
		}
	}
	p.mu.Lock()
	p.free = append(p.free, name)
	p.mu.Unlock()
	return nil
}

// mongoIndexes returns the index names of each collection of database name that has more than the
// _id index, sorted.
func mongoIndexes(ctx context.Context, name string) (map[string][]string, error) {
	db := h.mongoClient.Database(name)
	colls, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("listing the collections of %s: %w", name, err)
	}
	out := map[string][]string{}
	for _, c := range colls {
		cur, err := db.Collection(c).Indexes().List(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the indexes of %s.%s: %w", name, c, err)
		}
		var specs []struct {
			Name string `bson:"name"`
		}
		if err := cur.All(ctx, &specs); err != nil {
			return nil, fmt.Errorf("reading the indexes of %s.%s: %w", name, c, err)
		}
		var names []string
		for _, s := range specs {
			if s.Name != "_id_" {
				names = append(names, s.Name)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			out[c] = names
		}
	}
	return out, nil
}

// mongoEmpty reports whether no collection of database name holds a document.
func mongoEmpty(ctx context.Context, name string) (bool, error) {
	db := h.mongoClient.Database(name)
	colls, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return false, err
	}
	for _, c := range colls {
		n, err := db.Collection(c).CountDocuments(ctx, bson.D{})
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

func dropMongo(ctx context.Context, name string) error {
	if err := h.mongoClient.Database(name).Drop(ctx); err != nil {
		return fmt.Errorf("dropping MongoDB database %s: %w", name, err)
	}
	h.track(h.mongoDBs, name, false)
	return nil
}
