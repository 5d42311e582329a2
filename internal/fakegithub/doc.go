// Package fakegithub is the local GitHub Enterprise stand-in the tests and
// make demo use (README: "The local stack"). It does not import testing:
// constructors return errors, and internal/acctest wraps them for tests.
package fakegithub
