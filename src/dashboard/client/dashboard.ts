// The dashboard's behaviours, as progressive enhancements of server-rendered pages.
// Each page module registers itself on elements it finds; nothing runs inline (strict CSP).
import "./actions";
import "./chatbots";
import "./conversation";
import "./conversation-actions";
import "./participants";
import "./schedules";
import "./triggers";
import "./webhooks";
import { enhanceAll } from "./enhance";

enhanceAll(document);
