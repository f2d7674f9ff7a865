#include "exporters/postfix/postfix_config.h"

namespace sre::exporters::postfix {
namespace {

std::optional<std::string> CheckAbsolute(const std::string& path) {
  if (path.empty() || path.front() == '/') return std::nullopt;
  return "must be an absolute path";
}

}  // namespace

const config::Schema<PostfixConfig>& PostfixSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<PostfixConfig>("postfix check");
    s->Embed(&PostfixConfig::settings, CheckSettingsSchema());
    s->Field("showq_path", &PostfixConfig::showq_path,
             "Postfix's showq socket (QUEUE_DIRECTORY/public/showq); \"\" for none");
    s->Validate(&PostfixConfig::showq_path, std::function(CheckAbsolute));
    s->Field("log_file", &PostfixConfig::log_file,
             "mail log to follow across rotation, like /var/log/mail.log");
    s->Validate(&PostfixConfig::log_file, std::function(CheckAbsolute));
    s->Field("log_pods", &PostfixConfig::log_pods,
             "glob of container log files (CRI format) to follow, under /var/log/pods");
    s->Validate(&PostfixConfig::log_pods, std::function(CheckAbsolute));
    s->Field("log_journal", &PostfixConfig::log_journal,
             "systemd journal to follow: system, or a journal directory or file");
    s->Validate<std::string>(&PostfixConfig::log_journal,
                             [](const std::string& v) -> std::optional<std::string> {
                               if (v.empty() || v == "system" || v.front() == '/')
                                 return std::nullopt;
                               return "expected system or an absolute path";
                             });
    s->Field("log_start", &PostfixConfig::log_start,
             "end: count what is logged from now on; beginning: what the logs hold too");
    s->Validate<std::string>(&PostfixConfig::log_start,
                             [](const std::string& v) -> std::optional<std::string> {
                               if (v == "end" || v == "beginning") return std::nullopt;
                               return "expected end or beginning";
                             });
    s->Check([](const PostfixConfig& c) -> std::optional<std::string> {
      if (c.showq_path.empty() && c.log_file.empty() && c.log_pods.empty() &&
          c.log_journal.empty()) {
        return "a postfix check needs showq_path, log_file, log_pods or log_journal";
      }
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::postfix
