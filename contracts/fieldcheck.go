package contracts

import "unicode/utf8"

// Bounds on strings and arrays. They keep a record small enough to store,
// log digests of and show on a screen, and stop a peer from sending a record
// that is mostly padding.
const (
	MaxIDLen       = 64   // record, agreement and reference identifiers and document numbers, in ASCII characters
	MaxNameLen     = 64   // names of people, employers, programmes, jobs, brands, in runes
	MaxTitleLen    = 128  // agreement titles and signing bodies, in runes
	MaxNoteLen     = 2000 // free-text notes and reasons, in runes
	MaxURILen      = 256  // identity URIs
	MaxEvents      = 32   // lifecycle events of a transfer
	MaxScopeRules  = 16   // scope rules of an agreement
	MaxScopeFields = 64   // field paths of one scope rule
	MaxPurposes    = 8    // purposes of one scope rule
	MaxQuotas      = 16   // quotas of an agreement
	MaxApprovals   = 2    // one per party
	MaxSignature   = 1024 // bytes of a signature
)

// id checks a required identifier of a record: 1 to MaxIDLen printable
// ASCII characters without spaces. A record's own ids (id, transfer_id,
// referral_id) key the stores at both ends but never enter the audit log,
// so a province's system may keep its own (UUIDs, paths, long numbers).
func (c *checker) id(path, s string) {
	c.number(path, s)
}

// agreementID checks a required agreement id as records carry it: an id
// that is also a token of the audit log (CheckToken), which every flow's
// entry names its agreement by.
func (c *checker) agreementID(path, s string) {
	c.id(path, s)
	if err := CheckToken(s); s != "" && len(s) <= MaxIDLen && err != nil {
		c.add(path, err.Error())
	}
}

// number checks a required number a record quotes from a document, such as
// a certificate's: issued by others, and never a token of the audit log,
// so 1 to MaxIDLen printable ASCII characters without spaces.
func (c *checker) number(path, s string) {
	if s == "" {
		c.add(path, "is required")
		return
	}
	c.optNumber(path, s)
}

// optNumber checks an optional number, as number does.
func (c *checker) optNumber(path, s string) {
	if len(s) > MaxIDLen {
		c.addf(path, "has %d characters, want at most %d", len(s), MaxIDLen)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			r, _ := utf8.DecodeRuneInString(s[i:])
			c.addf(path, "character %d is %q, want printable ASCII without spaces", utf8.RuneCountInString(s[:i])+1, r)
			return
		}
	}
}

// text checks a required single-line text of at most max runes.
func (c *checker) text(path, s string, max int) {
	if s == "" {
		c.add(path, "is required")
		return
	}
	c.optText(path, s, max, false)
}

// optText checks an optional text of at most max runes; multiline admits
// line breaks and tabs, nothing admits other control characters.
func (c *checker) optText(path, s string, max int, multiline bool) {
	n := 0
	for _, r := range s {
		n++
		if r < ' ' || r == 0x7f {
			if multiline && (r == '\n' || r == '\r' || r == '\t') {
				continue
			}
			c.addf(path, "contains control character %U", r)
			return
		}
		if r == utf8.RuneError {
			c.add(path, "contains U+FFFD: invalid UTF-8 or a replacement character")
			return
		}
	}
	if n > max {
		c.addf(path, "has %d characters, want at most %d", n, max)
	}
}
