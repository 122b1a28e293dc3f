export const handler = async (event) => ({ statusCode: 200 });
