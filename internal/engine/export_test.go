package engine

// DryRuns counts the dry-run applies Diff made, so that tests can tell a
// check from a dry run.
func (e *Engine) DryRuns() int64 { return e.dryRuns.Load() }

// SnapshotLists counts the kinds refresh reads have listed, so that tests
// can tell one LIST per kind from one GET per object.
func (e *Engine) SnapshotLists() int {
	e.snap.mu.Lock()
	defer e.snap.mu.Unlock()
	return e.snap.lists
}
