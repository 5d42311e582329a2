// Package planmodifiers holds the plan-time rules for a single attribute that
// protect data: a quantity that only grows, a value fixed once created, and a
// replacement that needs an explicit flag. Each rejects the plan at its
// attribute, with a message the resource words, so nothing reaches the
// cluster. They run only on updates: a create has no state to compare with.
package planmodifiers
