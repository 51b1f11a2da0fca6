package httpapi

import (
	"context"
	"fmt"
	"sort"

	sfu "github.com/gosfu/sfu"
)

// target names one operation: Sora_<version>.<name>.
type target struct {
	version string // "20201013"
	name    string // "ListChannels"
}

func (t target) String() string { return "Sora_" + t.version + "." + t.name }

// opFunc runs one operation. It reads its keys from p and returns the
// value to answer with (marshalled to JSON) or an error that the handler
// maps to the error table.
type opFunc func(ctx context.Context, e *sfu.Engine, p *params) (any, error)

// registry holds every operation, keyed by (version, name). Each feature
// adds its operations in one place: a file ops_<feature>.go whose init
// calls register.
var registry = map[target]opFunc{}

// register adds operations; a duplicate target is a programming error and
// panics at start-up.
func register(ops map[target]opFunc) {
	for t, f := range ops {
		if _, dup := registry[t]; dup {
			panic(fmt.Sprintf("httpapi: operation %s registered twice", t))
		}
		registry[t] = f
	}
}

// op is shorthand for a registry key.
func op(version, name string) target { return target{version: version, name: name} }

// Operations returns the x-sora-target of every registered operation,
// sorted.
func Operations() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t.String())
	}
	sort.Strings(out)
	return out
}
