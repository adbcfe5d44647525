#include "store/database.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace hybridize::store {

namespace {

void require_file_path(const std::filesystem::path& path) {
  const std::string text = path.string();
  if (text.empty()) fail("the results database needs a file path, got ''");
  if (text == ":memory:" || text.rfind("file:", 0) == 0)
    fail(text,
         ": the results database must be a file path, not an in-memory or URI database (its results would be lost)");
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode))
    fail(text, ": not a regular file, so not a results database");
}

bool directory_writable(const std::filesystem::path& path) {
  const auto parent = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  return ::access(parent.c_str(), W_OK) == 0;
}

// "file:" URI of `path` with immutable=1: SQLite then needs no -shm or -wal
// beside a WAL database, which it cannot create on read-only media.
std::string immutable_uri(const std::filesystem::path& path) {
  std::string uri = "file:";
  for (const unsigned char c : std::filesystem::absolute(path).string()) {
    if (std::isalnum(c) || std::strchr("/-_.~", c) != nullptr) {
      uri += char(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      uri += escaped;
    }
  }
  return uri + "?immutable=1";
}

}  // namespace

Database::Database(const std::filesystem::path& path, Access access, int busy_timeout_ms) : path_(path) {
  require_file_path(path);
  const bool read_only = access == Access::ReadOnly;
  const bool immutable = read_only && !directory_writable(path);
  const std::string name = immutable ? immutable_uri(path) : path.string();
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    (immutable ? SQLITE_OPEN_URI : 0) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(name.c_str(), &handle_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = handle_ ? sqlite3_errmsg(handle_) : sqlite3_errstr(rc);
    sqlite3_close(handle_);
    handle_ = nullptr;
    fail(path.string(), ": cannot open the results database: ", message);
  }
  sqlite3_busy_timeout(handle_, busy_timeout_ms);
  // A file that is not SQLite fails here, on the first read, with SQLITE_NOTADB.
  try {
    execute(read_only ? "PRAGMA foreign_keys=ON; SELECT count(*) FROM sqlite_master;"
                      : "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
  } catch (...) {
    sqlite3_close(handle_);
    handle_ = nullptr;
    throw;
  }
}

Database::~Database() { sqlite3_close(handle_); }

void Database::fail_with(const std::string& doing) const {
  fail(path_.string(), ": ", doing, ": ", sqlite3_errmsg(handle_));
}

void Database::execute(std::string_view sql) {
  char* message = nullptr;
  if (sqlite3_exec(handle_, std::string(sql).c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    fail(path_.string(), ": ", text, " (in: ", sql.substr(0, 60), ")");
  }
}

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(handle_); }
int64_t Database::changes() const { return sqlite3_changes64(handle_); }

Statement::Statement(Database& database, std::string_view sql) : database_(database), sql_(sql) {
  if (sqlite3_prepare_v2(database.handle(), sql_.c_str(), int(sql_.size()), &statement_, nullptr) != SQLITE_OK)
    database_.fail_with("preparing '" + sql_.substr(0, 60) + "'");
}

Statement::~Statement() { sqlite3_finalize(statement_); }

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) database_.fail_with("binding " + sql_.substr(0, 40));
  return *this;
}
Statement& Statement::bind(int index, double value) {
  if (sqlite3_bind_double(statement_, index, value) != SQLITE_OK) database_.fail_with("binding " + sql_.substr(0, 40));
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  if (sqlite3_bind_text(statement_, index, value.data(), int(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    database_.fail_with("binding " + sql_.substr(0, 40));
  return *this;
}
Statement& Statement::bind(int index, std::nullopt_t) {
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) database_.fail_with("binding " + sql_.substr(0, 40));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  database_.fail_with("running '" + sql_.substr(0, 60) + "'");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
int64_t Statement::integer(int column) const { return sqlite3_column_int64(statement_, column); }
double Statement::real(int column) const { return sqlite3_column_double(statement_, column); }
std::string Statement::text(int column) const {
  const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
  return bytes ? std::string(bytes, sqlite3_column_bytes(statement_, column)) : std::string();
}
std::optional<double> Statement::optional_real(int column) const {
  return is_null(column) ? std::nullopt : std::optional<double>(real(column));
}
std::optional<int64_t> Statement::optional_integer(int column) const {
  return is_null(column) ? std::nullopt : std::optional<int64_t>(integer(column));
}

Transaction::Transaction(Database& database) : database_(database) { database_.execute("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (open_) sqlite3_exec(database_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  database_.execute("COMMIT");
  open_ = false;
}

}  // namespace hybridize::store
