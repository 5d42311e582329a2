package engine

// Fault points: named steps of an apply where the fault suite
// (internal/faults) stops the provider to prove that an interrupted apply
// loses nothing and the next one converges. A test arms one point
// (env IDP_FAULT, read in provider/settings.go); the provider process that
// reaches it writes a marker file and blocks until the test kills it.
//
// They exist only in a binary built with -tags idpfault (fault_on.go; the
// fault suite's, internal/acctest.ProviderBinary). Without the tag (go build,
// goreleaser: every binary users get) FaultPoints is false, every call site
// `if FaultPoints { fault(...) }` is dead code the compiler drops, and
// IDP_FAULT is not even read: a stray one cannot block a user's apply.
const (
	FaultObjectWritten   = "object-written"   // an object was created or applied
	FaultClaimHalf       = "claim-half"       // half of a resource's objects are claimed (created)
	FaultApplyHalf       = "apply-half"       // half of one Apply's objects are applied
	FaultVaultWritten    = "vault-written"    // a Vault write (new password or webhook secret) succeeded
	FaultRolloutWait     = "rollout-wait"     // waiting for a Deployment or StatefulSet to roll out
	FaultDeleteRequested = "delete-requested" // a delete request was accepted
)
