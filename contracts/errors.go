package contracts

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a record.
type FieldError struct {
	// Path is the field's JSON path, such as "worker.id_number" or
	// "events[2].kind"; empty for a problem with the record as a whole.
	Path string `json:"path"`
	// Message says what is wrong and, where it helps, what is wanted.
	Message string `json:"message"`
}

// Error formats the problem as "path: message".
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError lists every problem found in a record, in field order, so a
// submitter can fix them all in one round.
type ValidationError []FieldError

// Error joins the problems with "; ".
func (v ValidationError) Error() string {
	var b strings.Builder
	for i, e := range v {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// FieldErrors returns the problems in err when it is or wraps a
// ValidationError, and nil otherwise.
func FieldErrors(err error) []FieldError {
	var v ValidationError
	if errors.As(err, &v) {
		return v
	}
	return nil
}

// checker collects the problems of one record. Paths are passed as constant
// strings and formatted only when there is a problem, so a valid record costs
// no allocation.
type checker struct {
	errs ValidationError
}

func (c *checker) add(path, msg string) { c.errs = append(c.errs, FieldError{path, msg}) }

func (c *checker) addf(path, format string, args ...any) {
	c.add(path, fmt.Sprintf(format, args...))
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}
