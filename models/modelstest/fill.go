// Package modelstest helps tests of the stores: it fills models values so
// that a round trip through a store shows every field it loses.
package modelstest

import (
	"reflect"
	"testing"
	"time"
)

// Fill sets every field of v (a settable value of a models type) to a
// value that is not its zero and that every store keeps as is: times in
// whole milliseconds UTC, strings short enough for any column (ids are at
// most 24 characters), ints 2, bools true, pointers to filled values. A
// field type it cannot fill fails the test, so a new kind of field is met
// by a decision here, not skipped.
func Fill(t *testing.T, v reflect.Value) {
	t.Helper()
	fill(t, v, v.Type().Name())
}

func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	at := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(at))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.String:
		v.SetString("v" + string(rune('a'+len(path)%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(2)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			t.Fatalf("%s: no filler for %s", path, v.Type())
		}
		v.Set(reflect.ValueOf([]string{"la", "lb"}).Convert(v.Type()))
	default:
		t.Fatalf("%s: no filler for %s", path, v.Type())
	}
}
