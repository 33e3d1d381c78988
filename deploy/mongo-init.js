// Runs once, on MongoDB's first start (an empty mongo-data volume), as root.
// Creates the user eventflow connects as: readWrite on its own database only,
// so the app cannot read other databases, manage users or shut the server down.
// Refuses to go on while a password is still the .env.example placeholder.
const placeholder = "change-me";
for (const name of ["MONGO_ROOT_PASSWORD", "MONGO_APP_PASSWORD"]) {
  const value = process.env[name] || "";
  if (value.startsWith(placeholder)) {
    throw new Error(name + " is still the placeholder from .env.example; set your own in .env");
  }
}
const dbName = process.env.MONGO_APP_DB || "eventflow";
db.getSiblingDB(dbName).createUser({
  user: process.env.MONGO_APP_USERNAME,
  pwd: process.env.MONGO_APP_PASSWORD,
  roles: [{ role: "readWrite", db: dbName }],
});
