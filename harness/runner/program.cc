#include "harness/runner/program.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "common/input_error.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::runner {
namespace {

void only(const json::object& o, const std::string& where, std::initializer_list<std::string_view> valid) {
  for (const auto& [k, _] : o) {
    if (std::find(valid.begin(), valid.end(), std::string_view(k)) != valid.end()) continue;
    std::string list;
    for (auto f : valid) list += (list.empty() ? "" : ", ") + std::string(f);
    throw InputError(where + "." + std::string(k) + ": unknown field (valid: " + list + ")");
  }
}

std::string text(const json::object& o, const char* k, const std::string& where, bool required = false) {
  const auto* v = o.if_contains(k);
  if (!v) {
    if (required) throw InputError(where + "." + k + ": missing");
    return "";
  }
  if (!v->is_string()) throw InputError(where + "." + k + ": expected a string");
  return std::string(v->as_string());
}

// A command: ["prog", "arg", ...] or one string split into words.
Argv command(const json::value& v, const std::string& where) {
  if (v.is_string()) return split_words(std::string(v.as_string()), where);
  if (!v.is_array() || v.as_array().empty())
    throw InputError(where + ": expected a command: [\"program\", \"arg\", ...] or a string");
  Argv out;
  for (const auto& w : v.as_array()) {
    if (!w.is_string()) throw InputError(where + ": every word of a command must be a string");
    out.emplace_back(w.as_string());
  }
  return out;
}

json::array argv_json(const Argv& a) {
  json::array out;
  for (const auto& w : a) out.push_back(json::string(w));
  return out;
}

void read_server(const json::object& s, const std::string& where, ProgramSpec& p) {
  only(s, where, {"command", "ready", "steps", "figures", "show", "ready_timeout_s"});
  p.server = true;
  if (!s.contains("command")) throw InputError(where + ".command: missing");
  p.command = command(s.at("command"), where + ".command");
  const auto* ready = s.if_contains("ready");
  if (!ready || !ready->is_object()) throw InputError(where + ".ready: expected {\"port\": ...} or {\"line\": ...}");
  only(ready->as_object(), where + ".ready", {"port", "line"});
  p.ready_port = text(ready->as_object(), "port", where + ".ready");
  p.ready_line = text(ready->as_object(), "line", where + ".ready");
  if (p.ready_port.empty() == p.ready_line.empty())
    throw InputError(where + ".ready: give exactly one of port and line");
  if (const auto* t = s.if_contains("ready_timeout_s")) {
    if (!t->is_number() || t->to_number<double>() <= 0)
      throw InputError(where + ".ready_timeout_s: expected seconds > 0");
    p.ready_timeout_s = t->to_number<double>();
  }
  if (const auto* f = s.if_contains("figures")) p.figures = command(*f, where + ".figures");
  if (const auto* sh = s.if_contains("show")) {
    if (p.figures.empty()) throw InputError(where + ".show: names figures, but there is no \"figures\" command");
    if (!sh->is_array()) throw InputError(where + ".show: expected a list of the figures command's keys");
    for (const auto& k : sh->as_array()) {
      if (!k.is_string()) throw InputError(where + ".show: every key must be a string");
      p.show.emplace_back(k.as_string());
    }
  }
  const auto* steps = s.if_contains("steps");
  if (!steps || !steps->is_array() || steps->as_array().empty())
    throw InputError(where + ".steps: expected a list of client steps");
  for (size_t i = 0; i < steps->as_array().size(); ++i) {
    const std::string w = where + ".steps[" + std::to_string(i) + "]";
    const auto& st = steps->as_array()[i];
    if (!st.is_object())
      throw InputError(w + ": expected {\"phase\": ..., \"command\": [...]} or {\"phase\": ..., \"idle_ms\": N}");
    only(st.as_object(), w, {"phase", "command", "idle_ms"});
    ClientStep step{text(st.as_object(), "phase", w, true), {}, 0};
    if (const auto* c = st.as_object().if_contains("command")) step.command = command(*c, w + ".command");
    if (const auto* ms = st.as_object().if_contains("idle_ms")) {
      if (!ms->is_int64() || ms->as_int64() < 0) throw InputError(w + ".idle_ms: expected a non-negative integer");
      step.idle_ms = static_cast<uint64_t>(ms->as_int64());
    }
    if (step.command.empty() && step.idle_ms == 0) throw InputError(w + ": needs a command or idle_ms");
    p.steps.push_back(std::move(step));
  }
}

}  // namespace

Argv split_words(const std::string& s, const std::string& where) {
  Argv out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) cur += s[++i];
      else cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) throw InputError(where + ": unterminated " + std::string(1, quote) + " quote in '" + s + "'");
  if (in_word) out.push_back(cur);
  if (out.empty()) throw InputError(where + ": empty command");
  return out;
}

// Every {word} in a program's commands is one of kPlaceholderNames.
static void check_placeholders(const ProgramSpec& p) {
  auto check = [&](const std::string& w) {
    for (size_t open = w.find('{'); open != std::string::npos; open = w.find('{', open + 1)) {
      const size_t close = w.find('}', open);
      if (close == std::string::npos) return;
      const std::string name = w.substr(open + 1, close - open - 1);
      if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
        continue;
      bool known = false;
      std::string valid;
      for (const char* k : kPlaceholderNames)
        known |= name == k, valid += (valid.empty() ? "{" : ", {") + std::string(k) + "}";
      if (!known)
        throw InputError(p.source + ": '{" + name + "}' in '" + w + "' is not a placeholder (valid: " + valid + ")");
    }
  };
  auto each = [&](const Argv& a) {
    for (const auto& w : a) check(w);
  };
  each(p.command);
  each(p.check_command);
  each(p.figures);
  for (const auto& a : p.prepare) each(a);
  for (const auto& st : p.steps) each(st.command);
  check(p.stdin_path);
  check(p.ready_port);
}

ProgramSpec program_from_json(const json::value& v, const std::string& where) {
  if (!v.is_object())
    throw InputError(where + ": expected a program object with \"name\" and \"command\" (or \"server\")");
  const auto& o = v.as_object();
  only(o, where,
       {"name", "command", "server", "prepare", "stdin", "env", "check", "metric", "timeout_s", "description"});
  ProgramSpec p;
  p.source = where;
  p.name = text(o, "name", where, true);
  for (char c : p.name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      throw InputError(where + ".name: '" + p.name + "' may use only letters, digits, '-', '_' and '.'");
  if (o.contains("command") == o.contains("server"))
    throw InputError(where + ": give exactly one of \"command\" and \"server\"");
  if (const auto* c = o.if_contains("command")) p.command = command(*c, where + ".command");
  if (const auto* s = o.if_contains("server")) {
    if (!s->is_object()) throw InputError(where + ".server: expected an object");
    read_server(s->as_object(), where + ".server", p);
  }
  if (const auto* pre = o.if_contains("prepare")) {
    if (!pre->is_array()) throw InputError(where + ".prepare: expected a list of commands");
    for (size_t i = 0; i < pre->as_array().size(); ++i)
      p.prepare.push_back(command(pre->as_array()[i], where + ".prepare[" + std::to_string(i) + "]"));
  }
  p.stdin_path = text(o, "stdin", where);
  if (const auto* e = o.if_contains("env")) {
    if (!e->is_object()) throw InputError(where + ".env: expected {\"VARIABLE\": \"value\", ...}");
    for (const auto& [k, val] : e->as_object()) {
      if (!val.is_string()) throw InputError(where + ".env." + std::string(k) + ": expected a string");
      if (k.empty() || std::string_view(k).find('=') != std::string_view::npos)
        throw InputError(where + ".env: '" + std::string(k) + "' is not a variable name");
      p.env[std::string(k)] = std::string(val.as_string());
    }
  }
  if (const auto* c = o.if_contains("check")) {
    if (c->is_string()) {
      p.check = std::string(c->as_string());
      if (p.check != "same" && p.check != "none")
        throw InputError(where + ".check: '" + p.check +
                         "' (valid: same, none, {\"digest\": HEX}, {\"command\": [...]})");
    } else if (c->is_object()) {
      only(c->as_object(), where + ".check", {"digest", "command"});
      if (c->as_object().contains("digest"))
        p.check = "digest", p.expect_digest = text(c->as_object(), "digest", where + ".check");
      else if (c->as_object().contains("command"))
        p.check = "command", p.check_command = command(c->at("command"), where + ".check.command");
      else throw InputError(where + ".check: give digest or command");
    } else {
      throw InputError(where + ".check: expected same, none, {\"digest\": HEX} or {\"command\": [...]}");
    }
  }
  if (p.server && !o.contains("check")) p.check = "none";  // a server's stdout is its log
  if (p.server && p.check == "same")
    throw InputError(where +
                     ".check: a server's stdout is its log, not comparable across runs (use none, digest or command)");
  if (const auto* m = o.if_contains("metric")) {
    if (!m->is_object())
      throw InputError(where + ".metric: expected {\"name\": ..., \"regex\": ..., \"higher_is_better\": true}");
    only(m->as_object(), where + ".metric", {"name", "regex", "higher_is_better"});
    p.metric_name = text(m->as_object(), "name", where + ".metric", true);
    p.metric_regex = text(m->as_object(), "regex", where + ".metric", true);
    if (const auto* h = m->as_object().if_contains("higher_is_better")) {
      if (!h->is_bool()) throw InputError(where + ".metric.higher_is_better: expected true or false");
      p.metric_higher_is_better = h->as_bool();
    }
  }
  if (const auto* t = o.if_contains("timeout_s")) {
    if (!t->is_number() || t->to_number<double>() <= 0) throw InputError(where + ".timeout_s: expected seconds > 0");
    p.timeout_s = t->to_number<double>();
  }
  check_placeholders(p);
  return p;
}

ProgramSpec program_from_flag(const std::string& flag) {
  const size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size())
    throw InputError("--program '" + flag + "': expected NAME='COMMAND ARGS', e.g. sort-etc='sort /etc/services'");
  ProgramSpec p;
  p.name = flag.substr(0, eq);
  p.source = "--program " + p.name;
  for (char c : p.name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      throw InputError("--program '" + flag + "': name '" + p.name +
                       "' may use only letters, digits, '-', '_' and '.'");
  p.command = split_words(flag.substr(eq + 1), "--program " + p.name);
  return p;
}

std::vector<ProgramSpec> load_suite(const std::string& path) {
  if (std::error_code ec;
      fs::exists(path, ec) && !fs::is_regular_file(path, ec))  // a FIFO would block the read forever
    throw InputError("--suite '" + path + "' is not a regular file (a directory, FIFO or device): give a suite file");
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read the suite file");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  const json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object())
    throw InputError(path + ": not a JSON object (" + (ec ? ec.message() : "expected {\"suite\", \"programs\"}") + ")");
  only(v.as_object(), path + ": $", {"suite", "description", "programs"});
  const auto* list = v.as_object().if_contains("programs");
  if (!list || !list->is_array() || list->as_array().empty())
    throw InputError(path + ": $.programs: expected a non-empty list");
  const std::string dir = fs::absolute(path).parent_path().string();
  std::vector<ProgramSpec> out;
  for (size_t i = 0; i < list->as_array().size(); ++i) {
    ProgramSpec p = program_from_json(list->as_array()[i], path + ": $.programs[" + std::to_string(i) + "]");
    const std::map<std::string, std::string> here{{"suite_dir", dir}};
    p.command = expand(p.command, here);
    p.check_command = expand(p.check_command, here);
    p.figures = expand(p.figures, here);
    for (auto& a : p.prepare) a = expand(a, here);
    for (auto& st : p.steps) st.command = expand(st.command, here);
    p.stdin_path = expand({p.stdin_path}, here)[0];
    out.push_back(std::move(p));
  }
  return out;
}

Argv expand(const Argv& words, const std::map<std::string, std::string>& values) {
  Argv out = words;
  for (auto& w : out)
    for (const auto& [k, v] : values)
      for (size_t pos; (pos = w.find("{" + k + "}")) != std::string::npos;) w.replace(pos, k.size() + 2, v);
  return out;
}

std::string find_executable(const std::string& name) {
  auto runnable = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return runnable(name) ? fs::absolute(name).string() : "";
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && runnable(d + "/" + name)) return d + "/" + name;
  return "";
}

void check_executable(const ProgramSpec& p, const Argv& cmd, const std::string& what) {
  if (cmd.empty()) throw InputError(p.source + ": empty " + what);
  if (cmd[0].find('{') != std::string::npos)
    throw InputError(p.source + ": " + what + " '" + cmd[0] +
                     "' names a placeholder that has no value here (give --suite-dir?)");
  if (find_executable(cmd[0]).empty())
    throw InputError(p.source + ": " + what + " '" + cmd[0] + "' is not an executable file" +
                     (cmd[0].find('/') == std::string::npos ? " on PATH" : ""));
}

json::object ProgramSpec::to_json() const {
  json::object o{{"name", name}, {"check", check}};
  if (server) {
    json::array st;
    for (const auto& s : steps) {
      json::object so{{"phase", s.phase}};
      if (!s.command.empty()) so["command"] = argv_json(s.command);
      if (s.idle_ms) so["idle_ms"] = s.idle_ms;
      st.push_back(std::move(so));
    }
    json::object ready;
    if (!ready_port.empty()) ready["port"] = ready_port;
    else ready["line"] = ready_line;
    json::object so{{"command", argv_json(command)},
                    {"ready", std::move(ready)},
                    {"ready_timeout_s", ready_timeout_s},
                    {"steps", std::move(st)}};
    if (!figures.empty()) so["figures"] = argv_json(figures);
    if (!show.empty()) {
      json::array keys;
      for (const auto& k : show) keys.push_back(json::string(k));
      so["show"] = std::move(keys);
    }
    o["server"] = std::move(so);
  } else {
    o["command"] = argv_json(command);
  }
  if (!prepare.empty()) {
    json::array pre;
    for (const auto& a : prepare) pre.push_back(argv_json(a));
    o["prepare"] = std::move(pre);
  }
  if (!stdin_path.empty()) o["stdin"] = stdin_path;
  if (!env.empty()) {
    json::object e;
    for (const auto& [k, v] : env) e[k] = v;
    o["env"] = std::move(e);
  }
  if (check == "digest") o["check"] = json::object{{"digest", expect_digest}};
  if (check == "command") o["check"] = json::object{{"command", argv_json(check_command)}};
  if (!metric_name.empty())
    o["metric"] =
        json::object{{"name", metric_name}, {"regex", metric_regex}, {"higher_is_better", metric_higher_is_better}};
  if (timeout_s > 0) o["timeout_s"] = timeout_s;
  return o;
}

}  // namespace heapmark::runner
