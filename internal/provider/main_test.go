package provider_test

import (
	"os"
	"testing"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
)

// TestMain turns on trace logging and the secret scan for acceptance tests
// (acctest.Main) and prints the scan's totals.
func TestMain(m *testing.M) { os.Exit(acctest.Main(m)) }
