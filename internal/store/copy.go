package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// CopyTo copies every row of every application table of db into dst, which
// must be migrated and empty (for moving a SQLite install to PostgreSQL).
// Tables are copied parents first, so foreign keys hold throughout; identity
// sequences are moved past the copied ids. It returns rows copied per table.
func (db *DB) CopyTo(ctx context.Context, dst *DB, progress func(table string, rows int64)) (map[string]int64, error) {
	tables, err := db.tablesInDependencyOrder(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var n int64
		if err := dst.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: copy: destination table %s: %w", t, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("store: copy: destination table %s already has %d rows; copy into an empty database", t, n)
		}
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		n, err := copyTable(ctx, db, dst, t, progress)
		if err != nil {
			return counts, err
		}
		counts[t] = n
	}
	// Fresh statistics, so the copy's first queries are planned well.
	if err := dst.Analyze(ctx); err != nil {
		return counts, err
	}
	if dst.engine == Postgres {
		for _, t := range tables {
			var hasID bool
			if err := dst.sql.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id' AND is_identity = 'YES')`, t).Scan(&hasID); err != nil {
				return counts, fmt.Errorf("store: copy: %s identity: %w", t, err)
			}
			if hasID && counts[t] > 0 {
				if _, err := dst.sql.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t+`', 'id'), (SELECT MAX(id) FROM `+t+`))`); err != nil {
					return counts, fmt.Errorf("store: copy: %s sequence: %w", t, err)
				}
			}
		}
	}
	return counts, nil
}

const copyBatch = 5000

func copyTable(ctx context.Context, src, dst *DB, table string, progress func(string, int64)) (int64, error) {
	rows, err := src.sql.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, fmt.Errorf("store: copy %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, fmt.Errorf("store: copy %s: %w", table, err)
	}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `)`
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for {
		tx, err := dst.sql.BeginTx(ctx, nil)
		if err != nil {
			return n, fmt.Errorf("store: copy %s: %w", table, err)
		}
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			tx.Rollback()
			return n, fmt.Errorf("store: copy %s: %w", table, err)
		}
		batch := 0
		for batch < copyBatch && rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				tx.Rollback()
				return n, fmt.Errorf("store: copy %s row %d: %w", table, n+1, err)
			}
			if _, err := stmt.ExecContext(ctx, vals...); err != nil {
				tx.Rollback()
				return n, fmt.Errorf("store: copy %s row %d: %w", table, n+1, err)
			}
			batch++
			n++
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return n, fmt.Errorf("store: copy %s: %w", table, err)
		}
		if progress != nil {
			progress(table, n)
		}
		if batch < copyBatch {
			break
		}
	}
	return n, rows.Err()
}

// tablesInDependencyOrder lists the application tables (not goose's), each
// after the tables its foreign keys point to. It reads the source schema,
// so tables added by later migrations are copied too.
func (db *DB) tablesInDependencyOrder(ctx context.Context) ([]string, error) {
	var q string
	if db.engine == SQLite {
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`
	} else {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version' ORDER BY table_name`
	}
	rows, err := db.sql.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	// Each engine lists a table's foreign-key parents its own way.
	parentsQuery := `SELECT "table" FROM pragma_foreign_key_list($1)`
	if db.engine == Postgres {
		parentsQuery = `SELECT ccu.table_name FROM information_schema.table_constraints tc
			JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name
			WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = $1 AND tc.table_schema = current_schema()`
	}
	parents := make(map[string][]string)
	for _, t := range tables {
		r, err := db.sql.QueryContext(ctx, parentsQuery, t)
		if err != nil {
			return nil, fmt.Errorf("store: foreign keys of %s: %w", t, err)
		}
		for r.Next() {
			var p string
			if err := r.Scan(&p); err != nil {
				r.Close()
				return nil, fmt.Errorf("store: foreign keys of %s: %w", t, err)
			}
			parents[t] = append(parents[t], p)
		}
		r.Close()
	}
	var order []string
	done := map[string]bool{}
	var visit func(t string, depth int)
	visit = func(t string, depth int) {
		if done[t] || depth > len(tables) {
			return
		}
		for _, p := range parents[t] {
			if p != t {
				visit(p, depth+1)
			}
		}
		if !done[t] && slices.Contains(tables, t) {
			done[t] = true
			order = append(order, t)
		}
	}
	for _, t := range tables {
		visit(t, 0)
	}
	return order, nil
}
