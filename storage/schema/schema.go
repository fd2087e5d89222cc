// Package schema declares, once per mirrored collection, how its documents
// are stored: the MongoDB field of each models field and the mirror column
// that keeps it. ./gen writes from it the document structs and their
// mapping (storage/mongo/docs_gen.go), the row structs
// (storage/postgres/rows_gen.go) and the mapping between models and rows
// (storage/mirror/mapping_gen.go), so a field added to a task is its models
// field, its line here and a migration that adds the column.
//
// Only the generator imports this package; the services use what it writes.
package schema

//go:generate go run ./gen

// Collection is one mirrored collection.
type Collection struct {
	// Model is a value of its models type (a task is models.Task{}); its
	// ID and Version fields are implicit: every document has an ObjectId
	// _id and a version, every row keeps them in its SyncColumns.
	Model any
	// Name is the MongoDB collection.
	Name string
	// Doc names the document struct in storage/mongo.
	Doc string
	// Table is the mirror table, Row its struct in storage/postgres.
	Table, Row string
	// RowNote follows "<Row> mirrors <Name>." in the row struct's comment.
	RowNote string
	// Fields are in document order; the row lists its columns in the same
	// order. Version comes last unless a field places it.
	Fields []Field
}

// Field is one field of a document, a row or both.
//
// A field named like a models field maps it; the generator derives the Go
// types of the document and the row, and the conversions, from the models
// type, the column's nullability and Ref. A field the model lacks is a
// document-only field (DocType and ToDoc set) or a row-only column
// (RowType and ToRow set), computed from the model by the expression given.
type Field struct {
	Name string
	// BSON is the bson tag: the original's field name (mixed camelCase and
	// snake_case included, so the service runs on its database) and
	// options. Empty: not in the document.
	BSON string
	// Column is the bun tag of the mirror column. Empty: not a column of
	// the table (a task's labels and deferral live in child tables, mapped
	// by hand in storage/mirror).
	Column string
	// Ref marks an id of another document: the original stored many as
	// 24-hex strings and a few as other strings, new writes store
	// ObjectIds (storage/mongo's ref).
	Ref bool
	// Comment is kept on the field in the generated structs.
	Comment string
	// DocType overrides the document's Go type; ToDoc and ToModel are then
	// the conversions, Go expressions over the model m and the document d.
	DocType, ToDoc, ToModel string
	// RowType and ToRow declare a row-only column: its Go type and its
	// value, a Go expression over the model m.
	RowType, ToRow string
}
