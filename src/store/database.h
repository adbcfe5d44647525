#pragma once
// A thin RAII layer over one SQLite connection: prepared statements with typed
// binds and columns, and transactions that roll back unless committed. Every
// error names the database file and what was being done.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace hybridize::store {

class Database;

class Statement {
 public:
  Statement(Database& database, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds by 1-based position; returns *this so binds chain.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::nullopt_t);
  Statement& bind(int index, int value) { return bind(index, int64_t(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }

  // Advances; true while a row is available.
  bool step();
  // Runs a statement that returns no rows (or ignores them).
  void run();
  void reset();

  bool is_null(int column) const;
  int64_t integer(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::optional<double> optional_real(int column) const;
  std::optional<int64_t> optional_integer(int column) const;

 private:
  Database& database_;
  sqlite3_stmt* statement_ = nullptr;
  std::string sql_;
};

enum class Access {
  ReadWrite,  // created when missing
  ReadOnly,   // never written; on a read-only directory (media), opened as immutable
};

class Database {
 public:
  // Opens with WAL journaling (read-write), foreign keys on and a busy
  // timeout, so several processes can share one file. Refuses, naming it, a
  // path that is not a file on disk: "", ":memory:", a "file:" URI (results
  // would vanish with the process), a directory or FIFO.
  explicit Database(const std::filesystem::path& path, Access access = Access::ReadWrite, int busy_timeout_ms = 30000);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void execute(std::string_view sql);  // one or more statements, no results
  int64_t last_insert_id() const;
  int64_t changes() const;
  const std::filesystem::path& path() const { return path_; }

  // Throws Error "<file>: <doing>: <sqlite message>".
  [[noreturn]] void fail_with(const std::string& doing) const;
  sqlite3* handle() { return handle_; }

 private:
  std::filesystem::path path_;
  sqlite3* handle_ = nullptr;
};

// BEGIN IMMEDIATE on construction (takes the write lock at once, so two
// writers wait rather than deadlock), ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& database);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& database_;
  bool open_ = true;
};

}  // namespace hybridize::store
