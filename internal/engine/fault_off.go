//go:build !idpfault

package engine

import "context"

// FaultPoints says whether this binary has fault points (fault.go): not
// without -tags idpfault.
const FaultPoints = false

// ArmFault ignores spec: this binary has no fault points.
func ArmFault(string) error { return nil }

// fault is never called (every call site is behind FaultPoints); it only
// keeps the call sites compiling.
func fault(context.Context, string, string) {}
