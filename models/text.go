package models

// HasControl reports whether s holds a control character other than tab,
// newline and carriage return: text the service refuses wherever it comes
// from (GraphQL arguments, the development sign-in), since no client means
// it and PostgreSQL, the mirror, cannot store a NUL.
func HasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return true
		}
	}
	return false
}
