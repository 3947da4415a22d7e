import { app } from "./app";

export { ConversationObject } from "./conversations/conversation-object";

export default app satisfies ExportedHandler<Env>;
