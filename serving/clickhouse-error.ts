// A failure in ClickHouse's shape (code, name, message), as the live SQL endpoint answers it.

export class ClickHouseHttpError extends Error {
  constructor(
    readonly code: number,
    readonly type: string,
    message: string,
  ) {
    super(`Code: ${code}. DB::Exception: ${message}. (${type})`);
  }
}
