export const handler = async (event) => ({ isAuthorized: event.headers.authorization === "secret" });
