package policy

import (
	"fmt"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A decision is cached for the day and must be the same on every node and
// in a dry run, so a policy may not call a builtin whose answer depends on
// anything but its arguments and Request.Time: the wall clock, chance, the
// network or the node's runtime. http.send would moreover let a policy call
// out of the gateway. OPA marks most such builtins nondeterministic; the
// names below are refused whatever a later OPA says of them. Time builtins
// on input values (time.date on input.today, say) remain, and evaluation
// runs at the request's time (rego.EvalTime), so io.jwt.decode_verify and
// the like do not read the wall clock either. OPA does not mark the x509
// chain checks nondeterministic, but they verify at the wall clock's time
// (x509.VerifyOptions without CurrentTime), not the request's.
var refusedBuiltinNames = []string{
	"crypto.x509.parse_and_verify_certificates",
	"crypto.x509.parse_and_verify_certificates_with_options",
	"http.send",
	"net.lookup_ip_addr",
	"opa.runtime",
	"rand.intn",
	"time.now_ns",
	"uuid.rfc4122",
}

func refusedBuiltin(b *ast.Builtin) bool {
	return b.Nondeterministic || slices.Contains(refusedBuiltinNames, b.Name)
}

// policyCapabilities are the compiler's capabilities for both layers: this
// OPA's, without the refused builtins and with no host to connect to. The
// compiler then refuses a call to one as an undefined function, should
// checkBuiltins miss it.
var policyCapabilities = sync.OnceValue(func() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, refusedBuiltin)
	c.AllowNet = []string{}
	return c
})

// refusedBuiltins are the names of the builtins policyCapabilities leaves
// out.
var refusedBuiltins = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if refusedBuiltin(b) {
			m[b.Name] = true
		}
	}
	for _, n := range refusedBuiltinNames {
		m[n] = true
	}
	return m
})

// checkBuiltins refuses a layer that calls a refused builtin, naming the
// file, line and builtin, in words the compiler's "undefined function"
// would not give.
func checkBuiltins(mods map[string]*ast.Module) error {
	refused := refusedBuiltins()
	for _, name := range sortedKeys(mods) {
		var err error
		ast.WalkTerms(mods[name], func(t *ast.Term) bool {
			if err != nil {
				return true
			}
			if call, ok := t.Value.(ast.Call); ok && refused[call[0].String()] {
				err = refusedCall(name, t.Location, call[0].String())
			}
			return err != nil
		})
		if err == nil {
			ast.WalkExprs(mods[name], func(x *ast.Expr) bool {
				if err == nil && x.IsCall() && refused[x.Operator().String()] {
					err = refusedCall(name, x.Location, x.Operator().String())
				}
				return err != nil
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func refusedCall(file string, loc *ast.Location, builtin string) error {
	line := 0
	if loc != nil {
		line = loc.Row
	}
	return fmt.Errorf("%s:%d: %s is not allowed in a policy: a decision is cached for the day and must not depend on the clock, chance, the network or the node; use input.today or the request's own values", file, line, builtin)
}
