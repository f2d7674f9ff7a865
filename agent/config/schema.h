#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "agent/config/source.h"
#include "agent/config/value_codec.h"

namespace sre::config {

/// One key of a schema as `--describe` prints it.
struct FieldDoc {
  std::string key;
  std::string type;           ///< "duration", "string", "list of string", "list of <name>", ...
  std::string default_value;  ///< rendered default; empty when required or none
  bool required = false;
  std::string doc;
  std::vector<FieldDoc> children;  ///< keys of a nested or listed sub-schema
};

/// Type-erased view of a schema, for describing and for nesting.
class SchemaBase {
 public:
  virtual ~SchemaBase() = default;
  virtual const std::string& name() const = 0;
  virtual std::vector<FieldDoc> Describe() const = 0;
};

/// Renders FieldDocs as the indented text `--describe` prints.
std::string RenderDescription(const std::string& title, const std::vector<FieldDoc>& fields);

/// Internal: shared parts of Schema<T> that do not depend on T.
namespace internal {
/// Checks that `node` is a mapping without duplicate keys and whose keys are all in `valid`;
/// the error lists the valid keys.
Status CheckMapping(const YAML::Node& node, const std::vector<std::string>& valid,
                    const ParseContext& ctx);
}  // namespace internal

/// Declares how a YAML mapping becomes a `T`: keys, types, defaults (the member initialisers of
/// `T`), required keys and docs. Parse rejects unknown and duplicate keys, wrong types and
/// missing required keys, each as `file:line:col: message`. Immutable after construction, so one
/// instance may be shared across threads.
///
///   Schema<TcpConfig> s("tcp");
///   s.Field("target", &TcpConfig::target, "host:port to connect to").Required();
///   s.Field("timeout", &TcpConfig::timeout, "deadline of one check");
template <typename T>
class Schema final : public SchemaBase {
 public:
  explicit Schema(std::string name) : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }

  /// A scalar, list or map member whose type has a ValueCodec.
  template <typename M>
  Schema& Field(std::string key, M T::*member, std::string doc) {
    auto field = std::make_unique<Field_>();
    field->doc.key = std::move(key);
    field->doc.type = ValueCodec<M>::TypeName();
    field->doc.doc = std::move(doc);
    field->doc.default_value = ValueCodec<M>::Format(T{}.*member);
    field->parse = [member](const YAML::Node& node, const ParseContext& ctx, T& out) {
      return ValueCodec<M>::Parse(node, ctx, out.*member);
    };
    return Add(std::move(field));
  }

  /// A secret: the value itself under `key`, or read from the file named by `key_file`
  /// (one of the two). Secrets are never rendered by Describe or CanonicalText callers.
  Schema& Secret(std::string key, std::string T::*member, std::string doc) {
    auto field = std::make_unique<Field_>();
    field->doc.key = key;
    field->doc.type = "secret (or " + key + "_file: path)";
    field->doc.doc = std::move(doc);
    field->alias = key + "_file";
    field->parse = [member](const YAML::Node& node, const ParseContext& ctx, T& out) {
      auto value = ctx.ExpandedScalar(node);
      if (!value.ok()) return value.status();
      out.*member = std::move(value).value();
      return Status::Ok();
    };
    field->parse_alias = [member](const YAML::Node& node, const ParseContext& ctx, T& out) {
      auto value = ctx.ReadSecretFile(node);
      if (!value.ok()) return value.status();
      out.*member = std::move(value).value();
      return Status::Ok();
    };
    return Add(std::move(field));
  }

  /// A mapping member parsed by another schema.
  template <typename U>
  Schema& Nested(std::string key, U T::*member, const Schema<U>& schema, std::string doc) {
    auto field = std::make_unique<Field_>();
    field->doc.key = std::move(key);
    field->doc.type = schema.name();
    field->doc.doc = std::move(doc);
    field->doc.children = schema.Describe();
    field->parse = [member, &schema](const YAML::Node& node, const ParseContext& ctx, T& out) {
      return schema.Parse(node, ctx, out.*member);
    };
    return Add(std::move(field));
  }

  /// A list of mappings, each parsed by another schema.
  template <typename U>
  Schema& List(std::string key, std::vector<U> T::*member, const Schema<U>& schema,
               std::string doc) {
    auto field = std::make_unique<Field_>();
    field->doc.key = std::move(key);
    field->doc.type = "list of " + schema.name();
    field->doc.doc = std::move(doc);
    field->doc.children = schema.Describe();
    field->parse = [member, &schema](const YAML::Node& node, const ParseContext& ctx, T& out) {
      std::vector<U> items;
      if (node.IsNull()) {  // `key:` with every item commented out, as for ValueCodec lists
        out.*member = std::move(items);
        return Status::Ok();
      }
      if (!node.IsSequence()) return ctx.ErrorAt(node, "expected a list of " + schema.name());
      for (const YAML::Node& item : node) {
        U value;
        if (Status s = schema.Parse(item, ctx, value); !s.ok()) return s;
        items.push_back(std::move(value));
      }
      out.*member = std::move(items);
      return Status::Ok();
    };
    return Add(std::move(field));
  }

  /// Flattens another schema's keys into this one (shared keys such as `check`, `interval`).
  /// `schema` must outlive this one.
  template <typename U>
  Schema& Embed(U T::*member, const Schema<U>& schema) {
    for (const auto& inner : schema.fields_) {
      auto field = std::make_unique<Field_>();
      field->doc = inner->doc;
      field->alias = inner->alias;
      field->required = inner->required;
      auto* inner_ptr = inner.get();
      field->parse = [member, inner_ptr](const YAML::Node& n, const ParseContext& c, T& out) {
        return inner_ptr->parse(n, c, out.*member);
      };
      if (inner->parse_alias) {
        field->parse_alias = [member, inner_ptr](const YAML::Node& n, const ParseContext& c,
                                                 T& out) {
          return inner_ptr->parse_alias(n, c, out.*member);
        };
      }
      Add(std::move(field));
    }
    for (const auto& check : schema.checks_) {
      checks_.push_back([member, check](const T& value) { return check(value.*member); });
    }
    return *this;
  }

  /// Replaces the rendered default of the last added field ("agent.interval" rather than "0s").
  Schema& DefaultText(std::string text) {
    fields_.back()->doc.default_value = std::move(text);
    return *this;
  }

  /// Marks the last added field required.
  Schema& Required() {
    fields_.back()->required = true;
    fields_.back()->doc.required = true;
    fields_.back()->doc.default_value.clear();
    return *this;
  }

  /// Adds a check on the last added field's parsed value: return an error message, or nullopt.
  /// The error points at that field's value (for a secret, at `key` or `key_file`).
  template <typename M>
  Schema& Validate(
      M T::*member,
      std::type_identity_t<std::function<std::optional<std::string>(const M&)>> check) {
    Field_& field = *fields_.back();
    field.parse = WithCheck(std::move(field.parse), member, check);
    if (field.parse_alias) {
      field.parse_alias = WithCheck(std::move(field.parse_alias), member, check);
    }
    return *this;
  }

  /// A check across fields, run after all keys parsed; the error points at the mapping.
  Schema& Check(std::function<std::optional<std::string>(const T&)> check) {
    checks_.push_back(std::move(check));
    return *this;
  }

  /// Parses `node` (a mapping; null means "all defaults") into `out`, which starts as `T{}`.
  Status Parse(const YAML::Node& node, const ParseContext& ctx, T& out) const {
    out = T{};
    if (!node.IsDefined() || node.IsNull()) return CheckRequired(node, ctx, {});
    if (Status s = internal::CheckMapping(node, ValidKeys(), ctx); !s.ok()) return s;
    std::vector<std::string> seen;
    for (const auto& item : node) {
      const std::string key = item.first.Scalar();
      for (const auto& field : fields_) {
        const bool is_alias = !field->alias.empty() && field->alias == key;
        if (field->doc.key != key && !is_alias) continue;
        // Reported before parsing, so that a bad value of either cannot hide the conflict.
        if (std::find(seen.begin(), seen.end(), field->doc.key) != seen.end()) {
          return ctx.ErrorAt(item.first,
                             "'" + field->doc.key + "' and '" + field->alias + "' both given");
        }
        seen.push_back(field->doc.key);
        const auto& parse = is_alias ? field->parse_alias : field->parse;
        if (Status s = parse(item.second, ctx, out); !s.ok()) {
          return AtKeyIfEmpty(item.first, item.second, ctx, std::move(s));
        }
      }
    }
    if (Status s = CheckRequired(node, ctx, seen); !s.ok()) return s;
    for (const auto& check : checks_) {
      if (auto error = check(out)) return ctx.ErrorAt(node, *error);
    }
    return Status::Ok();
  }

  std::vector<FieldDoc> Describe() const override {
    std::vector<FieldDoc> docs;
    for (const auto& field : fields_) docs.push_back(field->doc);
    return docs;
  }

 private:
  template <typename>
  friend class Schema;

  struct Field_ {
    FieldDoc doc;
    bool required = false;
    std::string alias;  // "<key>_file" for secrets
    std::function<Status(const YAML::Node&, const ParseContext&, T&)> parse;
    std::function<Status(const YAML::Node&, const ParseContext&, T&)> parse_alias;
  };

  /// yaml-cpp places an empty value (`key:`) at the next token, often on the next line; an
  /// error located there is moved to the key.
  static Status AtKeyIfEmpty(const YAML::Node& key, const YAML::Node& value,
                             const ParseContext& ctx, Status error) {
    if (!value.IsNull()) return error;
    const std::string prefix = ctx.ErrorAt(value, "").message();
    if (!error.message().starts_with(prefix)) return error;
    return ctx.ErrorAt(key, std::string_view(error.message()).substr(prefix.size()));
  }

  template <typename M>
  static auto WithCheck(std::function<Status(const YAML::Node&, const ParseContext&, T&)> parse,
                        M T::*member, std::function<std::optional<std::string>(const M&)> check) {
    return [parse = std::move(parse), member, check = std::move(check)](
               const YAML::Node& node, const ParseContext& ctx, T& out) -> Status {
      if (Status s = parse(node, ctx, out); !s.ok()) return s;
      if (auto error = check(out.*member)) return ctx.ErrorAt(node, *error);
      return Status::Ok();
    };
  }

  Schema& Add(std::unique_ptr<Field_> field) {
    fields_.push_back(std::move(field));
    return *this;
  }

  std::vector<std::string> ValidKeys() const {
    std::vector<std::string> keys;
    for (const auto& field : fields_) {
      keys.push_back(field->doc.key);
      if (!field->alias.empty()) keys.push_back(field->alias);
    }
    return keys;
  }

  Status CheckRequired(const YAML::Node& node, const ParseContext& ctx,
                       const std::vector<std::string>& seen) const {
    for (const auto& field : fields_) {
      if (field->required && std::find(seen.begin(), seen.end(), field->doc.key) == seen.end()) {
        return ctx.ErrorAt(
            node, "missing required key '" + field->doc.key + "' (" + field->doc.doc + ")");
      }
    }
    return Status::Ok();
  }

  std::string name_;
  std::vector<std::unique_ptr<Field_>> fields_;
  std::vector<std::function<std::optional<std::string>(const T&)>> checks_;
};

}  // namespace sre::config
