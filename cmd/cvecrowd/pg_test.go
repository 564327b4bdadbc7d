package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

var pgSeq atomic.Int64

// freshPostgres returns a DSN for a new, empty schema on the server of dsn,
// dropped when the test ends.
func freshPostgres(t *testing.T, dsn string) string {
	t.Helper()
	schema := fmt.Sprintf("cmd_%d_%d", os.Getpid(), pgSeq.Add(1))
	admin, err := sql.Open("pgx", dsn)
	must(t, err)
	_, err = admin.Exec(`CREATE SCHEMA ` + schema)
	must(t, err)
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}
