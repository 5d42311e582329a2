package engine

// DryRuns counts the dry-run applies Diff made, so that tests can tell a
// check from a dry run.
func (e *Engine) DryRuns() int64 { return e.dryRuns.Load() }
